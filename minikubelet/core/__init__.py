"""The pure core: spec and model types, pod status (phase, conditions, container statuses),
restart and backoff, QoS, quantities, $(VAR) expansion, serialization. Every decision lives
here as a function of its inputs and an explicit `now`; nothing here imports asyncio,
aiohttp or psutil (an import-linter contract checks it)."""
