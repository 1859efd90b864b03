"""Benchmarks behind ``collector bench``: each prints ratios against a same-run baseline."""
