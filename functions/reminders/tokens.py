"""One-tap link tokens moved to :mod:`shared.http.tokens` (the reminders and feedback areas both make
and check links); this name stays for what imported it here."""

from shared.http.tokens import SECRET_ENV, BadToken, link_url, make, read, reset

__all__ = ["SECRET_ENV", "BadToken", "link_url", "make", "read", "reset"]
