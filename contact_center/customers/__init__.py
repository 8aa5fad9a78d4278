"""The customer base: accounts with contracts, their phones and e-mail addresses."""
