"""API Gateway HTTP API, emulated: template routes → payload v2 events → the real handlers.

Also serves the local-only routes (``/_local/...``, never in template.yaml), the generated OpenAPI
document at ``/openapi.json`` and Swagger UI at ``/docs``.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from datetime import datetime, timedelta
from email.utils import formatdate
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from werkzeug.datastructures import Headers
from werkzeug.wrappers import Request, Response

from local.dispatch import NoTwoWaySms
from local.template import ACCOUNT_ID, Route
from local.tokens import InvalidToken
from shared.clock import isoformat

if TYPE_CHECKING:
    from local.runtime import Runtime

PAYLOAD_LIMIT = 10 * 1024 * 1024  # HTTP API's request payload quota
_TEXT_TYPES = re.compile(
    r"^(text/|application/([\w.+-]*\+)?(json|xml|javascript|x-www-form-urlencoded))", re.I
)
_SWAGGER_DIR = "aws_lambda_powertools.event_handler.openapi.swagger_ui"
E164 = r"^\+[1-9]\d{1,14}$"


class _Matcher:
    def __init__(self, route: Route) -> None:
        self.route = route
        pattern = ""
        for segment in route.path.strip("/").split("/"):
            if m := re.fullmatch(r"\{(\w+)\+\}", segment):
                pattern += f"/(?P<{m.group(1)}>.+)"
            elif m := re.fullmatch(r"\{(\w+)\}", segment):
                pattern += f"/(?P<{m.group(1)}>[^/]+)"
            else:
                pattern += "/" + re.escape(segment)
        self.regex = re.compile(f"^{pattern or '/'}$")
        segments = route.path.strip("/").split("/")
        # API Gateway prefers the most specific route: more literal segments, greedy last, an
        # explicit method before ANY
        self.rank = (
            -sum(not s.startswith("{") for s in segments),
            "+}" in route.path,
            -len(segments),
            route.method == "ANY",
        )


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")),
        status=status,
        headers=headers or {},
        content_type="application/json",
    )


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    org: str = Field(min_length=1)
    roles: list[str] = Field(min_length=1)
    sub: str | None = None
    patient_id: str | None = None


class ClockRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    advance: timedelta | None = Field(None, description="ISO-8601 duration, e.g. PT26H")
    set: datetime | None = Field(None, description="an instant, e.g. 2026-11-24T09:00:00Z")


class RedriveRequest(BaseModel):
    """``POST /_local/dlq/redrive``: which dead-letter queue (its logical id), and how many at most."""

    model_config = ConfigDict(extra="forbid")
    queue: str
    limit: int | None = Field(None, ge=1)


class FaultRequest(BaseModel):
    """``POST /_local/faults``: break a function (every invocation raises ``error``) or mend it (null)."""

    model_config = ConfigDict(extra="forbid")
    function: str
    error: str | None = Field(
        pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$",
        description="the exception's name in the log line it writes; null mends the function",
    )


class SmsReply(BaseModel):
    """A patient's SMS reply (``POST /_local/sms``): who sent what, to which of our numbers."""

    model_config = ConfigDict(extra="forbid")
    sender: str = Field(alias="from", pattern=E164, description="the patient's phone, E.164")
    body: str = Field(min_length=1, max_length=1600)
    to: str | None = Field(None, pattern=E164, description="our number; the template's by default")


class HttpApi:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.matchers = sorted((_Matcher(r) for r in runtime.tpl.routes), key=lambda m: m.rank)
        cors = runtime.tpl.resources("AWS::Serverless::HttpApi")
        cfg = next(iter(cors.values()), {}).get("Properties", {}).get("CorsConfiguration", {}) if cors else {}
        origins = cfg.get("AllowOrigins", [])
        origins = (
            runtime.tpl.parameter_defaults().get(origins["Ref"], "") if isinstance(origins, dict) else origins
        )
        self.cors_origins = {o.strip() for o in (origins.split(",") if isinstance(origins, str) else origins)}
        self.cors = cfg

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        try:
            response = self.dispatch(request)
        except Exception:  # the emulator itself failed: say so like API Gateway would
            import traceback

            traceback.print_exc()
            response = _json(500, {"message": "Internal Server Error"})
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        path = request.path
        if path.startswith("/_local/"):
            return self.local(request)
        if path == "/openapi.json" and request.method == "GET":
            return _json(200, self.rt.openapi())
        if path in ("/docs", "/docs/") and request.method == "GET":
            return self.swagger()
        if path.startswith("/docs/swagger-ui") and request.method == "GET":
            return self.swagger_asset(path.rsplit("/", 1)[1])
        return self.api(request)

    # ------------------------------------------------------------ the API

    def api(self, request: Request) -> Response:
        origin = request.headers.get("Origin")
        if request.method == "OPTIONS" and origin and request.headers.get("Access-Control-Request-Method"):
            return self.preflight(
                origin,
                request.headers.get("Access-Control-Request-Method"),
                request.headers.get("Access-Control-Request-Headers"),
            )
        match = None
        for matcher in self.matchers:
            if matcher.route.method in (request.method, "ANY") and (m := matcher.regex.match(request.path)):
                match = (matcher.route, m.groupdict())
                break
        if match is None:
            return self.with_cors(_json(404, {"message": "Not Found"}), origin)
        route, params = match
        if (request.content_length or 0) > PAYLOAD_LIMIT:
            return self.with_cors(_json(413, {"message": "Request Entity Too Large"}), origin)
        raw = request.get_data(cache=False)
        if len(raw) > PAYLOAD_LIMIT:
            return self.with_cors(_json(413, {"message": "Request Entity Too Large"}), origin)
        claims = None
        if not route.public:
            try:
                claims = self.rt.tokens.verify(request.headers.get("Authorization"))
            except InvalidToken:
                return self.with_cors(_json(401, {"message": "Unauthorized"}), origin)
        self.rt.notice_template_change()
        event = self.event(request, route, params, raw, claims)
        result = self.rt.pools[route.function_id].invoke(
            event, self.rt.clock.offset.total_seconds(), event["requestContext"]["requestId"]
        )
        self.rt.wake()
        # API Gateway names every request (the functions' correlation id) in this header
        request_id = {"Apigw-Requestid": event["requestContext"]["requestId"]}
        if not result.ok:  # an error or a timeout in the function: API Gateway answers 500
            self.rt.ops.api_answered(500)
            failed = _json(500, {"message": "Internal Server Error"})
            failed.headers.update(request_id)
            return self.with_cors(failed, origin)
        response = self.response(result.value)
        self.rt.ops.api_answered(response.status_code)
        response.headers.update(
            {
                **request_id,
                "X-Careloop-Function": route.function_id,
                "X-Careloop-Cold-Start": str(result.cold).lower(),
                "X-Careloop-Reloaded": str(result.reloaded).lower(),
                "X-Careloop-Duration-Ms": f"{result.duration_ms:.1f}",
            }
        )
        return self.with_cors(response, origin)

    def event(
        self,
        request: Request,
        route: Route,
        params: dict[str, str],
        raw: bytes,
        claims: dict[str, str] | None,
    ) -> dict[str, Any]:
        headers: dict[str, str] = {}
        for key, value in request.headers.items():
            k = key.lower()
            headers[k] = f"{headers[k]},{value}" if k in headers else value
        cookies = [f"{k}={v}" for k, v in request.cookies.items()]
        headers.pop("cookie", None)
        query = {k: ",".join(request.args.getlist(k)) for k in request.args}
        now = self.rt.clock.now()
        content_type = headers.get("content-type", "")
        is_text = not raw or not content_type or bool(_TEXT_TYPES.match(content_type))
        context: dict[str, Any] = {
            "accountId": ACCOUNT_ID,
            "apiId": "local",
            "domainName": request.host,
            "domainPrefix": request.host.split(".")[0],
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": "HTTP/1.1",
                "sourceIp": request.remote_addr or "127.0.0.1",
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": base64.b64encode(uuid.uuid4().bytes[:10]).decode(),
            "routeKey": route.key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        }
        if claims is not None:
            context["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": route.key,
            "rawPath": request.path,
            "rawQueryString": request.query_string.decode(),
            "headers": headers,
            "requestContext": context,
            "isBase64Encoded": not is_text,
        }
        if cookies:
            event["cookies"] = cookies
        if query:
            event["queryStringParameters"] = query
        if params:
            event["pathParameters"] = params
        if raw:
            event["body"] = (
                raw.decode("utf-8", errors="replace") if is_text else base64.b64encode(raw).decode()
            )
        return event

    @staticmethod
    def response(value: Any) -> Response:
        """Payload 2.0 response mapping, as API Gateway does it."""
        if not isinstance(value, dict) or "statusCode" not in value:
            return _json(200, value)
        headers = Headers()
        for k, v in (value.get("headers") or {}).items():
            headers[k] = str(v)
        for k, values in (value.get("multiValueHeaders") or {}).items():
            for v in values:
                headers.add(k, str(v))
        for cookie in value.get("cookies") or []:
            headers.add("Set-Cookie", cookie)
        body = value.get("body") or ""
        data = base64.b64decode(body) if value.get("isBase64Encoded") else str(body).encode()
        headers.setdefault("Content-Type", "application/json")
        headers["Date"] = formatdate(time.time(), usegmt=True)
        return Response(data, status=int(value["statusCode"]), headers=headers)

    def preflight(self, origin: str, method: str | None = None, headers: str | None = None) -> Response:
        """A CORS preflight as API Gateway answers it: the allowed lists for an allowed origin asking
        for an allowed method and allowed headers; otherwise no CORS headers, and the browser refuses."""
        if origin not in self.cors_origins:
            return Response(status=204)
        allowed_methods = {m.upper() for m in self.cors.get("AllowMethods", [])}
        allowed_headers = {h.lower() for h in self.cors.get("AllowHeaders", [])}
        asked = {h.strip().lower() for h in (headers or "").split(",") if h.strip()}
        if (method and "*" not in allowed_methods and method.upper() not in allowed_methods) or (
            "*" not in allowed_headers and not asked <= allowed_headers
        ):
            return Response(status=204)
        return Response(
            status=204,
            headers={
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Credentials": str(self.cors.get("AllowCredentials", False)).lower(),
                "Access-Control-Allow-Methods": ",".join(self.cors.get("AllowMethods", [])),
                "Access-Control-Allow-Headers": ",".join(self.cors.get("AllowHeaders", [])),
                "Access-Control-Max-Age": str(self.cors.get("MaxAge", 0)),
            },
        )

    def with_cors(self, response: Response, origin: str | None) -> Response:
        if origin and origin in self.cors_origins:
            response.headers["Access-Control-Allow-Origin"] = origin
            if self.cors.get("AllowCredentials"):
                response.headers["Access-Control-Allow-Credentials"] = "true"
            if self.cors.get("ExposeHeaders"):
                response.headers["Access-Control-Expose-Headers"] = ",".join(self.cors["ExposeHeaders"])
        return response

    # ------------------------------------------------------------ docs

    def swagger(self) -> Response:
        from aws_lambda_powertools.event_handler.openapi.swagger_ui.html import generate_swagger_html

        html = generate_swagger_html(
            json.dumps(self.rt.openapi()),
            "/docs/swagger-ui-bundle.min.js",
            "/docs/swagger-ui.min.css",
            "/docs",
            None,
            persist_authorization=True,
        )
        return Response(html, content_type="text/html; charset=utf-8")

    @staticmethod
    def swagger_asset(name: str) -> Response:
        import importlib

        if name not in ("swagger-ui-bundle.min.js", "swagger-ui.min.css"):
            return _json(404, {"message": "Not Found"})
        folder = Path(importlib.import_module(_SWAGGER_DIR).__file__ or "").parent
        kind = "application/javascript" if name.endswith(".js") else "text/css"
        return Response(
            (folder / name).read_bytes(), content_type=kind, headers={"Cache-Control": "max-age=3600"}
        )

    # ------------------------------------------------------------ /_local

    def local(self, request: Request) -> Response:
        route = (request.method, request.path.removeprefix("/_local").rstrip("/"))
        rt = self.rt
        if route == ("POST", "/token"):
            try:
                ask = TokenRequest.model_validate_json(request.get_data() or b"{}")
                token = rt.tokens.issue(ask.org, ask.roles, ask.sub, ask.patient_id)
            except (ValidationError, ValueError) as exc:
                return _json(400, {"message": str(exc)})
            return _json(200, {"token": token})
        if route == ("GET", "/clock"):
            return _json(200, {"now": isoformat(rt.clock.now())})
        if route == ("POST", "/clock"):
            try:
                body = ClockRequest.model_validate_json(request.get_data() or b"{}")
            except ValidationError as exc:
                return _json(400, {"message": exc.errors(include_url=False, include_input=False)})
            if (body.advance is None) == (body.set is None):
                return _json(
                    400, {"message": "send exactly one of 'advance' (e.g. PT26H) or 'set' (an instant)"}
                )
            if body.set is not None and body.set.tzinfo is None:
                return _json(400, {"message": "'set' needs a time zone, e.g. 2026-11-24T09:00:00Z"})
            now = rt.clock.now()
            target = now + body.advance if body.advance is not None else body.set
            if target is None or target < now:  # timers already fired, records already written
                return _json(
                    409,
                    {
                        "message": "the clock only moves forward: "
                        f"{isoformat(target or now)} is before the runtime's now",
                        "now": isoformat(now),
                    },
                )
            fired = rt.advance_to(target)
            return _json(200, {"now": isoformat(rt.clock.now()), "fired": [f.as_dict() for f in fired]})
        if route == ("GET", "/outbox"):
            rt.dispatcher.settle()
            return _json(200, {"messages": rt.dispatcher.views.outbox})
        if route == ("GET", "/events"):
            rt.dispatcher.settle()  # what the last request produced is listed, not a tick later
            return _json(200, {"events": list(rt.dispatcher.views.events)})
        if route == ("GET", "/schedules"):
            rt.dispatcher.settle()  # a timer the last request's events set is listed
            return _json(200, {"now": isoformat(rt.clock.now()), "schedules": rt.dispatcher.schedules()})
        if route == ("GET", "/dlq"):
            rt.dispatcher.settle()
            return _json(
                200, {"failures": list(rt.dispatcher.views.dlq), "queues": rt.ops.dead_letter_queues()}
            )
        if route == ("POST", "/dlq/redrive"):
            try:
                again = RedriveRequest.model_validate_json(request.get_data() or b"{}")
            except ValidationError as exc:
                return _json(400, {"message": exc.errors(include_url=False, include_input=False)})
            if again.queue not in rt.ops.dead_letter_queues():
                return _json(404, {"message": "no such dead-letter queue in the template"})
            return _json(200, rt.ops.redrive(again.queue, again.limit))
        if route == ("GET", "/metrics"):
            return _json(200, rt.ops.report())
        if route == ("GET", "/logs"):
            return _json(200, {"lines": rt.ops.log_lines(request.args.get("correlation_id"))})
        if route == ("GET", "/faults"):
            return _json(200, {"faults": rt.ops.faults()})
        if route == ("POST", "/faults"):
            try:
                fault = FaultRequest.model_validate_json(request.get_data() or b"{}")
            except ValidationError as exc:
                return _json(400, {"message": exc.errors(include_url=False, include_input=False)})
            if fault.function not in rt.pools:
                return _json(404, {"message": "no such function in the template"})
            rt.ops.set_fault(fault.function, fault.error)
            return _json(200, {"function": fault.function, "error": fault.error})
        if route == ("POST", "/sms"):
            try:
                reply = SmsReply.model_validate_json(request.get_data() or b"{}")
            except ValidationError as exc:
                return _json(400, {"message": exc.errors(include_url=False, include_input=False)})
            try:
                sms = rt.dispatcher.inbound_sms(reply.sender, reply.body, reply.to)
            except NoTwoWaySms as exc:
                return _json(404, {"message": str(exc)})
            rt.wake()  # the functions it reached wrote things: save them (--data-dir)
            return _json(
                202,
                {
                    "inboundMessageId": sms["inboundMessageId"],
                    "previousPublishedMessageId": sms["previousPublishedMessageId"],
                },
            )
        if route == ("POST", "/settle"):
            return _json(200, {"moved": rt.dispatcher.settle()})
        if route == ("GET", "/status"):
            return _json(200, rt.status())
        return _json(404, {"message": "Not Found"})
