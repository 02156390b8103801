"""Care-plans area, HTTP: care plans and their templates, the education catalog, patients' education and
teach-back."""

from __future__ import annotations

from functions.careplans import education, plans
from shared.http.resolver import make_handler, make_resolver

app = make_resolver(plans.router, education.router)
handler = make_handler(app)
