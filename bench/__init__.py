"""Benchmarks (quality.md B1–B5): numbers are reported here, never asserted in tests."""
