"""Helpers for tests, benchmarks and README media: not part of the installed package."""
