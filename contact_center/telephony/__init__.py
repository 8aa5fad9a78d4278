"""The AMI edge: one link to Asterisk, AsyncAGI call control, Originate, phone numbers."""
