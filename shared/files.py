"""Attachments in S3: a pre-signed POST to upload one object, a pre-signed GET to read it.

The bucket (``ATTACHMENTS_BUCKET``; template.yaml) is encrypted with the customer-managed key, blocks
every public access and refuses plain HTTP. An upload form is good for one key (ids only, never a file
name), one content type and at most the size announced, for :data:`UPLOAD_SECONDS`; a download link
for :data:`DOWNLOAD_SECONDS`. Of an object's content only its first bytes are read: a file must be
the type it was announced as (:func:`is_a`).
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
    version_id: str | None  # what was checked: a later upload to the same key is another version


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
    return Stored(int(head["ContentLength"]), str(head.get("ContentType", "")), head.get("VersionId"))


# what a file of each type starts with (its magic number): the announced type must be the file's
_SIGNATURES: dict[str, tuple[tuple[int, bytes], ...]] = {
    "image/png": ((0, b"\x89PNG\r\n\x1a\n"),),
    "image/jpeg": ((0, b"\xff\xd8\xff"),),
    "application/pdf": ((0, b"%PDF-"),),
    "image/heic": tuple(
        (4, b"ftyp" + brand) for brand in (b"heic", b"heix", b"hevc", b"heim", b"mif1", b"msf1")
    ),
}


def is_a(content_type: str, head: bytes) -> bool:
    """Do the file's first bytes say it is ``content_type``?"""
    return any(head[at : at + len(magic)] == magic for at, magic in _SIGNATURES.get(content_type, ()))


def _version(version_id: str | None) -> dict[str, str]:
    return {"VersionId": version_id} if version_id else {}


def head_bytes(key: str, version_id: str | None = None, n: int = 16) -> bytes:
    """The first ``n`` bytes of the object (a ranged GET: nothing else is read)."""
    got = client("s3").get_object(Bucket=bucket(), Key=key, Range=f"bytes=0-{n - 1}", **_version(version_id))
    return bytes(got["Body"].read())


def download_url(key: str, version_id: str | None = None) -> str:
    """A GET of the version that was checked (an upload after the check is not what is served)."""
    params = {"Bucket": bucket(), "Key": key, **_version(version_id)}
    return str(client("s3").generate_presigned_url("get_object", Params=params, ExpiresIn=DOWNLOAD_SECONDS))
