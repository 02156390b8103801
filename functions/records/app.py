"""Records area, HTTP: interactions and notes, secure messages and attachments, remote monitoring, and
the patient timeline."""

from __future__ import annotations

from functions.records import documentation, messages, monitoring, timeline
from shared.http.resolver import make_handler, make_resolver

app = make_resolver(documentation.router, messages.router, monitoring.router, timeline.router)
handler = make_handler(app)
