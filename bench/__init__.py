"""Benchmarks, load and fault runs: `python -m bench` lists them, `python -m
bench NAME --help` tells how to run one. bench/README.md has each one's
target and last figures."""
