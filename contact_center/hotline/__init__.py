"""The hotline (standard, ch. 2 § 2.1): recording warning, opening hours on the production
calendar, IVR self-service from `ivr_scripts/`, the operator queue, appeals and the norms.

Rules (pure): `ivr` (menu scripts), `outages` (outage records and what a caller hears),
`norms` (the report). Stores: `appeals` (the journal), `outage_store`. On disk: `ivr_library`.
Calls: `flow` (one call's state machine), `bus_consume` (AMI queue events), `recovery`
(calls a flow let go of: released to the dialplan, their appeals closed), `service` (the
hotline inside `contact-center serve`), `sim` (simulated callers).
"""
