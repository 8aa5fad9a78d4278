"""The sim-world demonstration that `make demo` runs."""
