"""Tools for development, tests, demos and benchmarks: the running service never imports them."""
