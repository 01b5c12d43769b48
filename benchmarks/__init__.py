"""Benchmarks of the minikubelet daemon: `python -m benchmarks [--smoke] [--output PATH]`.

Each module measures one thing against the real `minikubelet run` started as a user starts
it (a child process on loopback, in its own session), and returns `Figure`s; `__main__`
runs them in order, prints a table and writes the figures as JSON and as a markdown table.
Every process a benchmark starts is stopped before it returns, and every wait is bounded.
"""
