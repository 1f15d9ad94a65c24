"""Benchmarks of issue 2 (figures in docs/benchmarks.md); run them all with `make bench`."""
