"""The one way Careloop sends an HTTP request to a URL a partner gave us (webhook deliveries).

The threat is server-side request forgery: a subscriber URL is input, and our functions sit where a
request can reach what the internet cannot. ``https://169.254.169.254/latest/meta-data/`` would ask
the metadata service for the function's credentials, ``https://localhost:8080/`` or ``https://10.0.3.7/``
would probe the VPC, and a DNS name that resolves to a public address when the subscription is checked
can resolve to ``10.x`` a second later when the delivery connects (DNS rebinding). So:

- :func:`check_url` accepts ``https`` only, no ``user:password@``, an ASCII URL of at most 2048
  characters, a host with a dot in it (a single label resolves through the search domains: GCP's
  ``metadata``), and a port that is 443 or 1024-65535 (so no SSH, SMTP, or other service on a
  well-known port hears our POST). An IP literal must be canonical (``https://2130706433/``,
  ``https://0x7f.1/``, ``https://0177.0.0.1/`` are refused whatever they decode to: parsers disagree on
  them). ``localhost`` is loopback without asking DNS (RFC 6761). A name is resolved and **every**
  address must be public (:func:`is_public`; an IPv4-mapped IPv6 address is refused even when the
  IPv4 address is public).
- :func:`post` checks again, resolves once and connects to the first address it checked, keeping TLS
  verification, SNI and the ``Host`` header on the name. It sends nothing through a proxy, follows no
  redirect (a 3xx is returned as the status), reads at most 64 KB of the answer and discards it.
- Refusals and failures are exceptions with a short code and a message that never holds the URL (a
  partner may put a token in it). This module logs nothing.

``allow_loopback=True`` is for the local runtime only (a flag the template leaves off): loopback
addresses are accepted, and plain ``http`` with them, when the host is ``localhost`` or a loopback IP
literal. Every other rule stays.

What it does not promise: ``timeout`` bounds the connection and each wait for data (urllib3's
``total``), so a server trickling its headers a byte at a time can stretch a call beyond it (the
function's own timeout is the backstop). A 2xx read from the status line counts even if the body read
then fails.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import socket
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Final
from urllib.parse import urlsplit

from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, Timeout
from urllib3.exceptions import HTTPError, NewConnectionError, SSLError
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from shared import clock

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL: Final = 2048
MAX_BODY: Final = 64 * 1024
# None: the system trust store; tests point it at the CA of their loopback TLS server
_CA_CERTS: str | None = None

# is_global is already False for private, loopback, link-local (169.254.0.0/16, fe80::/10),
# unspecified, shared address space (100.64.0.0/10), benchmarking and unique-local (fc00::/7, AWS's
# IPv6 metadata fd00:ec2::254) addresses; Python 3.11 still calls these global: IETF protocol
# assignments and the deprecated IPv6 site-local.
_ALSO_REFUSED: Final = (ipaddress.ip_network("192.0.0.0/24"), ipaddress.ip_network("fec0::/10"))
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")  # a last label like this makes the host an IPv4 form
_PRINTABLE_ASCII = re.compile(r"[!-~]+")  # no space, no control character, nothing past ASCII


class UnsafeUrl(ValueError):
    """The URL may not be called. ``code``: ``url`` (malformed), ``scheme``, ``userinfo``, ``host``,
    ``port``, ``address`` (resolves to a non-public address), ``unresolvable``."""

    def __init__(self, code: str) -> None:
        super().__init__(f"unsafe webhook URL: {code}")
        self.code = code


class DeliveryFailed(Exception):
    """No HTTP status came back. ``code``: ``timeout``, ``connect``, ``tls``."""

    def __init__(self, code: str) -> None:
        super().__init__(f"webhook delivery failed: {code}")
        self.code = code


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    retry_after: int | None  # seconds, from a Retry-After header (delta or HTTP date), if any


@dataclass(frozen=True, slots=True)
class _Target:
    url: str  # normalized
    scheme: str
    host: str  # name or IP literal, lowercase, no brackets
    port: int
    address: IPAddress  # the checked address to connect to
    path: str  # path and query

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def is_public(address: IPAddress) -> bool:
    """Whether a request to ``address`` can only reach the public internet.

    ``is_global`` is the base; multicast, reserved and the networks above are added. IPv6 forms that
    embed an IPv4 address: IPv4-mapped (``::ffff:a.b.c.d``), IPv4-compatible (``::a.b.c.d``) and
    NAT64 (``64:ff9b::/96``) all lie in ``::/8``, which is reserved, so all are refused; 6to4 and
    Teredo are refused when the address they embed is not public (and Teredo's ``2001::/32`` is
    private anyway). The embedded check also holds where a newer Python judges a mapped address by
    its IPv4 part.
    """
    if isinstance(address, ipaddress.IPv6Address):
        embedded = [address.ipv4_mapped, address.sixtofour, *(address.teredo or ())]
        if any(v4 is not None and not is_public(v4) for v4 in embedded):
            return False
    return (
        address.is_global
        and not address.is_multicast  # 224.0.0.0/4 and ff00::/8 count as global
        and not address.is_reserved  # 240.0.0.0/4; ::/8
        and not any(address in net for net in _ALSO_REFUSED)
    )


def check_url(url: str, *, allow_loopback: bool = False) -> str:
    """The normalized URL (lowercase scheme and host, default port and fragment dropped, path at
    least ``/``), or :class:`UnsafeUrl`. Resolves the host name."""
    return _check(url, allow_loopback=allow_loopback).url


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout: float = 10.0,
    allow_loopback: bool = False,
) -> Response:
    """POST ``body`` to ``url`` once: :class:`UnsafeUrl` if the URL fails :func:`check_url` now,
    :class:`DeliveryFailed` if no status came back, else the status (a 3xx is not followed)."""
    target = _check(url, allow_loopback=allow_loopback)
    sent = {k: v for k, v in headers.items() if k.lower() != "host"}
    sent["Host"] = target.host_header
    pool: HTTPConnectionPool
    if target.scheme == "https":
        pool = HTTPSConnectionPool(
            str(target.address),
            target.port,
            maxsize=1,
            server_hostname=target.host,
            assert_hostname=target.host,
            cert_reqs="CERT_REQUIRED",
            ca_certs=_CA_CERTS,
        )
    else:
        pool = HTTPConnectionPool(str(target.address), target.port, maxsize=1)
    try:
        try:
            answer = pool.urlopen(
                "POST",
                target.path,
                body=body,
                headers=sent,
                retries=False,
                redirect=False,
                assert_same_host=False,
                timeout=Timeout(total=timeout),
                preload_content=False,
                decode_content=False,
            )
        except SSLError:
            raise DeliveryFailed("tls") from None
        except NewConnectionError:  # before its base class, urllib3's TimeoutError
            raise DeliveryFailed("connect") from None
        except Urllib3Timeout:
            raise DeliveryFailed("timeout") from None
        except HTTPError:  # reset, closed before a status line, a malformed answer
            raise DeliveryFailed("connect") from None
        try:
            with contextlib.suppress(HTTPError, OSError):
                answer.read(MAX_BODY, decode_content=False)
            return Response(answer.status, _retry_after(answer.headers.get("Retry-After")))
        finally:
            answer.close()
    finally:
        pool.close()


def _check(url: str, *, allow_loopback: bool) -> _Target:
    if len(url) > MAX_URL or not _PRINTABLE_ASCII.fullmatch(url) or "\\" in url:
        raise UnsafeUrl("url")
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed [ in the host
        raise UnsafeUrl("host") from None
    scheme = parts.scheme
    if scheme != "https" and not (scheme == "http" and allow_loopback):
        raise UnsafeUrl("scheme")
    if "@" in parts.netloc:
        raise UnsafeUrl("userinfo")
    host, literal = _host(parts.hostname or "")
    if scheme == "http" and not (host == "localhost" or (literal is not None and literal.is_loopback)):
        raise UnsafeUrl("scheme")  # plain http for loopback only
    default_port = 443 if scheme == "https" else 80
    try:
        port = default_port if parts.port is None else parts.port
    except ValueError:  # not a number, or past 65535
        raise UnsafeUrl("port") from None
    if port != 443 and not 1024 <= port <= 65535:
        raise UnsafeUrl("port")
    if literal is not None:
        addresses = [literal]
    elif host == "localhost":  # RFC 6761: always loopback, never asked of DNS
        addresses = [ipaddress.IPv4Address("127.0.0.1")]
    else:
        addresses = _resolve(host, port)
    for address in addresses:
        if not (is_public(address) or (allow_loopback and address.is_loopback)):
            raise UnsafeUrl("address")
    netloc = f"[{host}]" if ":" in host else host
    if port != default_port:
        netloc = f"{netloc}:{port}"
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return _Target(f"{scheme}://{netloc}{path}", scheme, host, port, addresses[0], path)


def _host(host: str) -> tuple[str, IPAddress | None]:
    """The host and, for an IP literal, its address; :class:`UnsafeUrl` ``host`` if neither a
    canonical IP literal nor ``localhost`` nor a name of two or more LDH labels."""
    if not host or "%" in host:  # no host; or an IPv6 zone, percent-encoding
        raise UnsafeUrl("host")
    if host == "localhost":
        return host, None
    with contextlib.suppress(ValueError):
        return host, ipaddress.ip_address(host)  # strict: dotted-quad, no leading zeros
    labels = host.split(".")
    if (
        len(labels) < 2
        or _NUMERIC_LABEL.fullmatch(labels[-1])
        or not all(_LABEL.fullmatch(label) for label in labels)
    ):
        raise UnsafeUrl("host")
    return host, None


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UnsafeUrl("unresolvable") from None
    addresses: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise UnsafeUrl("unresolvable")
    return addresses


def _retry_after(value: str | None) -> int | None:
    """Seconds from a Retry-After header: ``120`` or an HTTP date (from now; past dates are 0)."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return int(value)
    try:
        at = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if at.tzinfo is None:
        return None
    return max(0, int((at - clock.now()).total_seconds()))


LOOPBACK_ENV = "OUTBOUND_ALLOW_LOOPBACK"


def loopback_allowed() -> bool:
    """The local runtime's explicit flag (``OUTBOUND_ALLOW_LOOPBACK=true``); the template pins it off."""
    return os.environ.get(LOOPBACK_ENV, "").lower() == "true"
