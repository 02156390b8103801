"""Scheduling area: calendar, providers, availability, appointments, referrals, waitlist and offers."""

from __future__ import annotations

from functions.scheduling import appointments, availability, referrals, setup, waitlist
from shared.http.resolver import make_handler, make_resolver

app = make_resolver(setup.router, availability.router, appointments.router, referrals.router, waitlist.router)
handler = make_handler(app)
