"""Campaigns as supervisors see them: stored scenarios, the campaign service (create, steer,
status, report) and the snapshot of a running campaign both channels work from.

The CLI and `serve` share these through the database: the CLI changes a campaign's
status, the dialer (autoinformer.phone) and the mailer (autoinformer.email) see it on
their next pass.
"""
