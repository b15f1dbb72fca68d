"""secmsg: administration CLI and policy engine for policy-driven Secure Messaging."""

__version__ = "0.1.0"
