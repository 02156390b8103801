"""Intake area: patients, assessments, coverage, care teams, panels and audit trails."""

from __future__ import annotations

from functions.intake import patients, records, team
from shared.http.resolver import make_handler, make_resolver

app = make_resolver(patients.router, records.router, team.router)
handler = make_handler(app)
