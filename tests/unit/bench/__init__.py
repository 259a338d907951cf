"""Unit tests of the benchmarks ' pure helpers."""
