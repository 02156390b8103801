"""HTTP edge: resolver factory, auth, problem+json errors, idempotency, pagination."""
