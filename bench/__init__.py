"""Benchmarks: commands that print figures (throughput, latency); never timed assertions."""
