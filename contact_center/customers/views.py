"""A customer as plain data for JSON (the CLI's `--json`, the web API and its pages)."""

from __future__ import annotations

from typing import Any

from contact_center.customers.models import Customer


def customer_data(c: Customer) -> dict[str, Any]:
    """A customer as `--json` gives it (money as text, dates ISO)."""
    return {
        "account": c.account,
        "name": c.name,
        "address": c.address,
        "has_contract": c.has_contract,
        "phones": [p.number for p in c.phones],
        "emails": [
            {
                "address": e.address,
                "consent": e.consent,
                "consent_date": e.consent_date.isoformat() if e.consent_date else None,
            }
            for e in c.emails
        ],
        "debt": None if c.debt is None else f"{c.debt:.2f}",
        "debt_date": c.debt_date.isoformat() if c.debt_date else None,
        "timezone": c.timezone,
    }
