"""Standard Webhooks in and out: signatures (signing.py) and the guarded outbound request (egress.py)."""
