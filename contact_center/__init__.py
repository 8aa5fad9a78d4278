"""Contact centre and autoinformer service for an electricity utility, on Asterisk over AMI."""

__version__ = "0.1.0"
