"""Benchmarks of cnngrade (pytest-benchmark)."""
