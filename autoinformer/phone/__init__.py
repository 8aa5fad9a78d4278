"""The phone channel of campaigns inside `serve`: the dialer's book of attempts, pacing,
reconciliation after a restart, speech rendered ahead, and the flow of each call."""
