"""The benchmark suite: our proxy against a bare pass-through and a direct call, on loopback.

Run `python -m bench` (or `make bench`); `--quick` for a short run, `--smoke` to prove it
works. See docs/benchmarks.md for the results on the reference machine and how to read them.
"""
