"""The single table: PynamoDB models over generic ``PK``/``SK``/``GSIn`` keys (see :mod:`keys`)."""
