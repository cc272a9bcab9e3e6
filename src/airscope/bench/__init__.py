"""Benchmarks that print figures: ``airscope bench overhead`` lives in ``overhead``."""
