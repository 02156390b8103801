"""Pure rules over pydantic models: no boto3, no I/O, no clock reads (``now`` is an argument)."""
