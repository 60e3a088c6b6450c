"""Helpers for the test suite and benchmarks (not shipped)."""
