"""A small HTTP/1.1 load generator: `python -m benchmarks.loadgen URL --connections C
--requests R --seconds S`; prints one JSON line with the count, errors, rate and latencies.

C keep-alive connections on loopback each send GET, read the headers and exactly
Content-Length bytes, and go again, until R requests are done or S seconds pass. It parses no
more of the response than that, so on a machine with few cores it costs far less CPU than the
server it measures. It runs in its own process, apart from the benchmark and the daemon.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from urllib.parse import urlsplit

from benchmarks.stats import summary_ms


class Counter:
    def __init__(self, limit: int, deadline: float) -> None:
        self.limit = limit
        self.deadline = deadline
        self.started = 0
        self.latencies: list[float] = []
        self.errors = 0
        self.bytes = 0

    def take(self) -> bool:
        if self.started >= self.limit or time.monotonic() >= self.deadline:
            return False
        self.started += 1
        return True


async def one_connection(host: str, port: int, path: str, counter: Counter) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: */*\r\n\r\n".encode()
    try:
        while counter.take():
            began = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            body = await reader.readexactly(length)
            counter.latencies.append(time.perf_counter() - began)
            counter.bytes += len(body)
            if status != 200:
                counter.errors += 1
    finally:
        writer.close()


async def run(url: str, connections: int, requests: int, seconds: float) -> dict[str, float]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    counter = Counter(requests, time.monotonic() + seconds)
    began = time.perf_counter()
    results = await asyncio.gather(
        *(one_connection(host, port, path, counter) for _ in range(connections)),
        return_exceptions=True,
    )
    elapsed = time.perf_counter() - began
    failed = sum(1 for r in results if isinstance(r, BaseException))
    done = len(counter.latencies)
    return {
        "requests": float(done),
        "errors": float(counter.errors + failed),
        "seconds": elapsed,
        "rps": done / elapsed if elapsed > 0 else 0.0,
        "bytes_per_response": counter.bytes / done if done else 0.0,
        **summary_ms(counter.latencies),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.loadgen")
    parser.add_argument("url")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    result = asyncio.run(run(args.url, args.connections, args.requests, args.seconds))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
