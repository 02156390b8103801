"""What a refusal looks like, and proof that it wrote nothing: for the access tables."""

from __future__ import annotations

from typing import Any


def snapshot(stack: dict[str, Any]) -> list[dict[str, Any]]:
    """Every item in the table (a Scan: tests only), to show a refused call wrote nothing."""
    import boto3

    client = boto3.client("dynamodb", region_name="us-east-1")
    items, kwargs = [], {"TableName": stack["table_name"]}
    while True:
        page = client.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return sorted(items, key=lambda i: (i["PK"]["S"], i["SK"]["S"]))
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


FORBIDDEN = {
    "type": "https://careloop.dev/problems/forbidden",
    "title": "Forbidden",
    "status": 403,
    "detail": "Your role may not call this route.",
}
NOT_FOUND = {"type": "https://careloop.dev/problems/not-found", "title": "Not found", "status": 404}


def assert_refused(response: dict[str, Any], expected: dict[str, Any], where: object) -> None:
    assert response["statusCode"] == expected["status"], (where, response["statusCode"], response["body"])
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    assert headers["content-type"] == "application/problem+json", where
    body = response["json"]
    assert {k: body[k] for k in expected} == expected, (where, body)
    assert set(body) <= {"type", "title", "status", "detail", "request_id"}, (where, body)


def retrying(fn: Any, detail: dict[str, Any], now: Any, org: str = "acme") -> str:
    """An event consumer called as Lambda would: an invocation that raised (a lost transaction, its own
    retries spent) is tried again, up to 5 times."""
    from shared.data.tx import Cancelled

    for _ in range(5):
        try:
            return str(fn(org, detail, now))
        except (Cancelled, RuntimeError):
            continue
    raise AssertionError("never settled")
