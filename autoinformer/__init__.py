"""Notification campaigns (phone and e-mail); depends on contact_center, never the reverse."""
