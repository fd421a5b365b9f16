"""The parts of ``scripts/bench.py``: CPU, silence gate, memory, latency, soak."""
