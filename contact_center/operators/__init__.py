"""Operators: login, pause, post-call work and the timing of their work on each call."""
