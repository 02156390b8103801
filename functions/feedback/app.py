"""Feedback area, HTTP: survey definitions and the report (admins), a patient's surveys in the app."""

from __future__ import annotations

from functions.feedback import responses, surveys
from shared.http.resolver import make_handler, make_resolver

app = make_resolver(surveys.router, responses.router)
handler = make_handler(app)
