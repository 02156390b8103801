"""The outbound request guard: which partner URLs are refused, and what a delivery does on the wire.

No DNS is ever asked (a fake resolver answers for the names these tests use) and the only servers are
on loopback, reached through ``allow_loopback=True`` as the local runtime does.
"""

from __future__ import annotations

import ipaddress
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
import urllib3.util.connection

from shared import clock
from shared.webhooks import egress
from shared.webhooks.egress import DeliveryFailed, Response, UnsafeUrl, check_url, post

PUBLIC = "93.184.216.34"
HEADERS = {"Content-Type": "application/json", "webhook-id": "msg_1", "webhook-signature": "v1,abc="}


# --- a resolver that answers from a table, and records what it was asked --------------------------


@dataclass
class FakeDns:
    answers: dict[str, list[list[str]]] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    def set(self, name: str, *answers: list[str]) -> None:
        """Each lookup of ``name`` takes the next answer; the last one stays."""
        self.answers[name] = list(answers)

    def getaddrinfo(
        self, host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> list[tuple[Any, ...]]:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            pass
        else:  # an address: no DNS involved (this is how urllib3 opens its socket)
            return _real_getaddrinfo(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)
        self.asked.append(host)
        queue = self.answers.get(host)
        if not queue:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        ips = queue.pop(0) if len(queue) > 1 else queue[0]
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (ip, port, 0, 0))
            if ":" in ip
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))
            for ip in ips
        ]


_real_getaddrinfo = socket.getaddrinfo


@pytest.fixture(autouse=True)
def dns(monkeypatch: pytest.MonkeyPatch) -> FakeDns:
    fake = FakeDns()
    monkeypatch.setattr(socket, "getaddrinfo", fake.getaddrinfo)
    return fake


# --- a loopback receiver ----------------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    hosts: list[str]  # every Host header sent
    body: bytes


class _Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    received: list[Received]
    retry_after: str | None
    sni: list[str | None]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        hosts = self.headers.get_all("Host", [])
        self.server.received.append(Received(self.path, dict(self.headers.items()), hosts, body))
        if self.path == "/redirect":
            self._answer(302, Location=f"http://127.0.0.1:{self.server.server_address[1]}/ok")
        elif self.path == "/fail":
            self._answer(500)
        elif self.path == "/busy":
            self._answer(503, **({"Retry-After": self.server.retry_after} if self.server.retry_after else {}))
        elif self.path == "/endless":  # a body that never ends: the sender must stop reading
            self.send_response(200)
            self.end_headers()
            chunk = b"x" * 65536
            deadline = time.monotonic() + 5  # ends even if nobody hangs up
            while time.monotonic() < deadline:
                try:
                    self.wfile.write(chunk)
                except OSError:
                    return
        else:
            self._answer(204)

    def _answer(self, status: int, **headers: str) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Receiver:
    server: _Server

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def received(self) -> list[Received]:
        return self.server.received

    def url(self, path: str, host: str = "127.0.0.1", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{path}"


def _serve(context: ssl.SSLContext | None = None) -> Iterator[Receiver]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.received, server.retry_after, server.sni = [], None, []
    if context is not None:
        context.sni_callback = lambda sock, name, ctx: server.sni.append(name)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield Receiver(server)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from _serve()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- refusals ---------------------------------------------------------------------------------------

REFUSED = [
    # scheme
    ("http://93.184.216.34/hook", "scheme"),
    ("ftp://93.184.216.34/hook", "scheme"),
    ("file:///etc/passwd", "scheme"),
    ("gopher://93.184.216.34:1025/", "scheme"),
    # userinfo
    ("https://user:pass@93.184.216.34/", "userinfo"),
    ("https://partner.example@127.0.0.1/", "userinfo"),
    ("https://@93.184.216.34/", "userinfo"),
    # host: missing, single label (search domains: GCP's "metadata"), not LDH, odd IPv4 forms
    ("https:///hook", "host"),
    ("https://metadata/computeMetadata/v1/", "host"),
    ("https://exa_mple.com/", "host"),
    ("https://partner.example./", "host"),
    ("https://2130706433/", "host"),
    ("https://0x7f.1/", "host"),
    ("https://0x7f000001/", "host"),
    ("https://017700000001/", "host"),
    ("https://0177.0.0.1/", "host"),
    ("https://127.1/", "host"),
    ("https://[fe80::1%25eth0]/", "host"),
    ("https://[127.0.0.1]/", "host"),
    ("https://[::1/", "host"),
    # port: 443 or 1024-65535
    ("https://93.184.216.34:22/", "port"),
    ("https://93.184.216.34:80/", "port"),
    ("https://93.184.216.34:0/", "port"),
    ("https://93.184.216.34:65536/", "port"),
    ("https://93.184.216.34:http/", "port"),
    # address: literals
    ("https://127.0.0.1/", "address"),
    ("https://127.8.9.10:8443/", "address"),
    ("https://localhost/", "address"),
    ("https://[::1]/", "address"),
    ("https://169.254.169.254/latest/meta-data/", "address"),
    ("https://10.0.0.1/", "address"),
    ("https://172.16.0.1/", "address"),
    ("https://192.168.1.1/", "address"),
    ("https://100.64.0.1/", "address"),
    ("https://0.0.0.0/", "address"),
    ("https://224.0.0.1/", "address"),
    ("https://240.0.0.1/", "address"),
    ("https://192.0.0.8/", "address"),  # IETF protocol assignments (global to Python 3.11)
    ("https://255.255.255.255/", "address"),
    ("https://[::]/", "address"),
    ("https://[fe80::1]/", "address"),
    ("https://[fd00:ec2::254]/", "address"),  # AWS's IPv6 metadata address, unique-local
    ("https://[fc00::1]/", "address"),
    ("https://[fec0::1]/", "address"),  # deprecated site-local (global to Python 3.11)
    ("https://[ff02::1]/", "address"),
    ("https://[::ffff:127.0.0.1]/", "address"),
    ("https://[::ffff:169.254.169.254]/", "address"),
    ("https://[::127.0.0.1]/", "address"),  # IPv4-compatible
    ("https://[2002:a9fe:a9fe::]/", "address"),  # 6to4 of 169.254.169.254
    ("https://[64:ff9b::a00:1]/", "address"),  # NAT64 of 10.0.0.1
    ("https://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/", "address"),  # Teredo, client 10.0.0.1
    # address: names
    ("https://internal.partner.example/", "address"),
    ("https://metadata.partner.example/", "address"),
    ("https://v6.partner.example/", "address"),
    ("https://mapped.partner.example/", "address"),
    # unresolvable
    ("https://nowhere.partner.example/", "unresolvable"),
    # url
    ("https://93.184.216.34/a b", "url"),
    ("https://93.184.216.34/a\r\nX-Injected: 1", "url"),
    ("https://93.184.216.34\\@127.0.0.1/", "url"),
    ("https://93.184.216.34/caf\u00e9", "url"),
    ("https://93.184.216.34/" + "a" * 2048, "url"),
]


@pytest.mark.parametrize(("url", "code"), REFUSED)
def test_an_unsafe_url_is_refused_with_its_code_and_the_message_does_not_quote_it(
    dns: FakeDns, url: str, code: str
) -> None:
    # Given names that resolve to private addresses
    dns.set("internal.partner.example", ["10.1.2.3"])
    dns.set("metadata.partner.example", ["169.254.169.254"])
    dns.set("v6.partner.example", ["fd12:3456::1"])
    dns.set("mapped.partner.example", ["::ffff:10.0.0.1"])
    # When the URL is checked, Then it is refused with its code, and the message names only the code
    with pytest.raises(UnsafeUrl) as refused:
        check_url(url)
    assert refused.value.code == code
    assert str(refused.value) == f"unsafe webhook URL: {code}"


def test_a_name_with_one_public_and_one_private_address_is_refused(dns: FakeDns) -> None:
    dns.set("partner.example", [PUBLIC, "10.0.0.7"])
    with pytest.raises(UnsafeUrl) as refused:
        check_url("https://partner.example/hook")
    assert refused.value.code == "address"


@pytest.mark.parametrize(
    ("url", "normalized"),
    [
        ("HTTPS://Partner.EXAMPLE:443/hook?x=1&y=2#fragment", "https://partner.example/hook?x=1&y=2"),
        ("https://partner.example:8443", "https://partner.example:8443/"),
        ("https://partner.example:65535/a/b", "https://partner.example:65535/a/b"),
        (f"https://{PUBLIC}/hook", f"https://{PUBLIC}/hook"),
        ("https://[2606:4700::1111]:1024/hook", "https://[2606:4700::1111]:1024/hook"),
        ("https://xn--bcher-kva.example/", "https://xn--bcher-kva.example/"),
    ],
)
def test_a_public_url_is_accepted_normalized(dns: FakeDns, url: str, normalized: str) -> None:
    dns.set("partner.example", [PUBLIC, "2606:2800:220:1:248:1893:25c8:1946"])
    dns.set("xn--bcher-kva.example", [PUBLIC])
    assert check_url(url) == normalized


# --- DNS pinning ------------------------------------------------------------------------------------


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Where urllib3 opens its sockets; each attempt is recorded and then fails as unreachable."""
    targets: list[tuple[str, int]] = []

    def create_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        targets.append(address)
        raise OSError("unreachable in tests")

    monkeypatch.setattr(urllib3.util.connection, "create_connection", create_connection)
    return targets


def test_post_connects_to_the_address_it_checked_even_if_the_name_then_resolves_elsewhere(
    dns: FakeDns, connections: list[tuple[str, int]]
) -> None:
    # Given a name that resolves to a public address, then (rebinding) to a private one
    dns.set("partner.example", [PUBLIC], ["10.0.0.1"])
    # When a delivery is posted
    with pytest.raises(DeliveryFailed) as failed:
        post("https://partner.example/hook?token=s3cret", b"{}", HEADERS)
    # Then the name was resolved once, and the connection went to the address that was checked
    assert dns.asked == ["partner.example"]
    assert connections == [(PUBLIC, 443)]
    assert failed.value.code == "connect"
    assert "s3cret" not in str(failed.value) and "partner" not in str(failed.value)


def test_post_checks_again_and_refuses_a_name_that_now_resolves_to_a_private_address(
    dns: FakeDns, connections: list[tuple[str, int]]
) -> None:
    # Given a subscription URL that was public when it was saved
    dns.set("partner.example", [PUBLIC], ["169.254.169.254"])
    assert check_url("https://partner.example/hook") == "https://partner.example/hook"
    # When a delivery is posted after the name moved, Then it is refused and nothing connects
    with pytest.raises(UnsafeUrl) as refused:
        post("https://partner.example/hook", b"{}", HEADERS)
    assert refused.value.code == "address"
    assert connections == []


# --- the wire, through a loopback receiver -----------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_delivery_reaches_a_loopback_receiver_with_its_body_and_headers(
    receiver: Receiver, dns: FakeDns, host: str
) -> None:
    response = post(receiver.url("/ok?token=t1", host=host), b'{"a": 1}', HEADERS, allow_loopback=True)
    assert response == Response(status=204, retry_after=None)
    [got] = receiver.received
    assert got.path == "/ok?token=t1"
    assert got.body == b'{"a": 1}'
    assert got.hosts == [f"{host}:{receiver.port}"]
    assert {k: got.headers[k] for k in HEADERS} == HEADERS
    assert dns.asked == []  # localhost is loopback by definition, never asked of DNS


def test_a_callers_host_header_cannot_replace_the_checked_host(receiver: Receiver) -> None:
    post(receiver.url("/ok"), b"{}", {**HEADERS, "host": "metadata.google.internal"}, allow_loopback=True)
    assert receiver.received[0].hosts == [f"127.0.0.1:{receiver.port}"]


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://10.0.0.1:8080/hook", "scheme"),
        ("http://partner.example:8080/hook", "scheme"),
        ("http://example.com/hook", "scheme"),
        ("https://10.0.0.1/hook", "address"),
        ("https://169.254.169.254/latest/meta-data/", "address"),
        ("https://[::ffff:10.0.0.1]/", "address"),
        ("http://127.0.0.1:22/", "port"),
        ("http://127.0.0.1/", "port"),
        ("http://user@127.0.0.1:8080/", "userinfo"),
    ],
)
def test_allow_loopback_allows_loopback_only(dns: FakeDns, url: str, code: str) -> None:
    dns.set("partner.example", [PUBLIC])
    with pytest.raises(UnsafeUrl) as refused:
        check_url(url, allow_loopback=True)
    assert refused.value.code == code


def test_without_allow_loopback_a_loopback_receiver_is_refused(receiver: Receiver) -> None:
    with pytest.raises(UnsafeUrl) as refused:
        post(receiver.url("/ok"), b"{}", HEADERS)
    assert refused.value.code == "scheme"
    assert receiver.received == []


def test_a_redirect_is_returned_not_followed(receiver: Receiver) -> None:
    response = post(receiver.url("/redirect"), b"{}", HEADERS, allow_loopback=True)
    assert response.status == 302
    assert [r.path for r in receiver.received] == ["/redirect"]


def test_a_server_error_returns_its_status(receiver: Receiver) -> None:
    assert post(receiver.url("/fail"), b"{}", HEADERS, allow_loopback=True) == Response(500, None)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120),
        ("Mon, 23 Nov 2026 14:02:30 GMT", 150),
        ("Mon, 23 Nov 2026 13:00:00 GMT", 0),
        ("soon", None),
        ("-5", None),
        (None, None),
    ],
)
def test_retry_after_is_read_as_seconds(
    receiver: Receiver, frozen_clock: clock.FixedClock, header: str | None, seconds: int | None
) -> None:
    # Given a receiver answering 503 at 14:00:00 (the frozen clock), with or without Retry-After
    receiver.server.retry_after = header
    assert post(receiver.url("/busy"), b"{}", HEADERS, allow_loopback=True) == Response(503, seconds)


def test_an_endless_answer_body_is_not_read_to_its_end(receiver: Receiver) -> None:
    started = time.monotonic()
    assert post(receiver.url("/endless"), b"{}", HEADERS, allow_loopback=True).status == 200
    assert time.monotonic() - started < 2.0


def test_a_server_that_never_answers_times_out_within_the_timeout(silent_port: int) -> None:
    started = time.monotonic()
    with pytest.raises(DeliveryFailed) as failed:
        post(
            f"http://127.0.0.1:{silent_port}/hook?token=s3cret",
            b"{}",
            HEADERS,
            timeout=0.5,
            allow_loopback=True,
        )
    elapsed = time.monotonic() - started
    assert failed.value.code == "timeout"
    assert 0.45 <= elapsed < 1.5
    assert "s3cret" not in str(failed.value) and str(silent_port) not in str(failed.value)
    assert failed.value.__cause__ is None and failed.value.__suppress_context__


def test_a_refused_connection_is_a_connect_failure(closed_port: int) -> None:
    with pytest.raises(DeliveryFailed) as failed:
        post(f"http://127.0.0.1:{closed_port}/hook", b"{}", HEADERS, allow_loopback=True)
    assert failed.value.code == "connect"
    assert str(failed.value) == "webhook delivery failed: connect"


# --- TLS: verified against the name while connected to the pinned address ----------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA, and a server certificate it signed for ``partner.example``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.now(UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "partner.example")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("partner.example")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    d = tmp_path_factory.mktemp("pki")
    paths = {"ca": d / "ca.pem", "cert": d / "cert.pem", "key": d / "key.pem"}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


@pytest.fixture
def tls_receiver(pki: dict[str, Path]) -> Iterator[Receiver]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki["cert"], pki["key"])
    yield from _serve(context)


def test_https_is_verified_against_the_name_and_sends_it_as_sni(
    tls_receiver: Receiver, pki: dict[str, Path], dns: FakeDns, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given partner.example resolving to the loopback receiver, whose certificate our CA signed
    monkeypatch.setattr(egress, "_CA_CERTS", str(pki["ca"]))
    dns.set("partner.example", ["127.0.0.1"])
    # When a delivery is posted to the name
    url = tls_receiver.url("/ok", host="partner.example", scheme="https")
    response = post(url, b"{}", HEADERS, allow_loopback=True)
    # Then it arrives, over TLS with the name as SNI and Host, through the one resolved address
    assert response.status == 204
    assert tls_receiver.server.sni == ["partner.example"]
    assert tls_receiver.received[0].hosts == [f"partner.example:{tls_receiver.port}"]
    assert dns.asked == ["partner.example"]


@pytest.mark.parametrize(("name", "trusted"), [("other.example", True), ("partner.example", False)])
def test_a_certificate_for_another_name_or_from_an_unknown_ca_is_a_tls_failure(
    tls_receiver: Receiver,
    pki: dict[str, Path],
    dns: FakeDns,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    trusted: bool,
) -> None:
    if trusted:
        monkeypatch.setattr(egress, "_CA_CERTS", str(pki["ca"]))
    dns.set(name, ["127.0.0.1"])
    with pytest.raises(DeliveryFailed) as failed:
        post(tls_receiver.url("/ok", host=name, scheme="https"), b"{}", HEADERS, allow_loopback=True)
    assert failed.value.code == "tls"
    assert tls_receiver.received == []
