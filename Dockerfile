# minikubelet in a container: the daemon is PID 1 (exec form, so SIGTERM from `docker stop`
# reaches it and every pod gets its grace period), running as a non-root user.
#   docker build -t minikubelet .
#   docker run --rm -p 10255:10255 minikubelet                 # runs examples/web.yaml
#   docker run --rm -p 10255:10255 -v $PWD/pod.yaml:/pod.yaml minikubelet /pod.yaml
FROM python:3.11-slim

RUN useradd --create-home --uid 10001 minikubelet
WORKDIR /app
COPY pyproject.toml README.md ./
COPY minikubelet ./minikubelet
RUN pip install --no-cache-dir . && rm -rf /root/.cache
COPY examples ./examples

USER minikubelet
EXPOSE 10255
# Inside a container the API must listen beyond loopback to be reachable through -p;
# mutating requests still need a loopback peer or a --token-file.
ENTRYPOINT ["minikubelet", "run", "--address", "0.0.0.0", "--port", "10255"]
CMD ["examples/web.yaml"]
