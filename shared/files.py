"""Attachments in S3: a pre-signed POST to upload one object, a pre-signed GET to read it.

The bucket (``ATTACHMENTS_BUCKET``; template.yaml) is encrypted with the customer-managed key, blocks
every public access and refuses plain HTTP. An upload form is good for one key (ids only, never a file
name), one content type and at most the size announced, for :data:`UPLOAD_SECONDS`; a download link
for :data:`DOWNLOAD_SECONDS`. Nothing here reads the object's content.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.aws import client

UPLOAD_SECONDS = 5 * 60
DOWNLOAD_SECONDS = 5 * 60


def bucket() -> str:
    return os.environ.get("ATTACHMENTS_BUCKET", "careloop-local-attachments")


@dataclass(frozen=True)
class Form:
    url: str
    fields: dict[str, str]
    expires_at: datetime


@dataclass(frozen=True)
class Stored:
    size: int
    content_type: str


def upload_form(key: str, content_type: str, max_bytes: int, now: datetime) -> Form:
    posted = client("s3").generate_presigned_post(
        bucket(),
        key,
        Fields={"Content-Type": content_type},
        Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]],
        ExpiresIn=UPLOAD_SECONDS,
    )
    return Form(posted["url"], dict(posted["fields"]), now + timedelta(seconds=UPLOAD_SECONDS))


def stored(key: str) -> Stored | None:
    """What was uploaded under ``key`` (None: nothing yet)."""
    from botocore.exceptions import ClientError

    try:
        head = client("s3").head_object(Bucket=bucket(), Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    return Stored(int(head["ContentLength"]), str(head.get("ContentType", "")))


def download_url(key: str) -> str:
    return str(
        client("s3").generate_presigned_url(
            "get_object", Params={"Bucket": bucket(), "Key": key}, ExpiresIn=DOWNLOAD_SECONDS
        )
    )
