"""The hotline (standard, ch. 2 § 2.1): recording warning, opening hours on the production
calendar, IVR self-service from `ivr_scripts/`, the operator queue, appeals and the norms."""
