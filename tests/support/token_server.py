"""A small token server of the Docker registry token spec (distribution's docs/spec/auth/token.md), on loopback.

GET <realm>?service=...&scope=...&account=... with Basic auth checked against one user and password answers
`{"token", "access_token", "expires_in", "issued_at"}`: a JWT signed ES256 whose header carries `x5c`, the
signing certificate (issued by a CA of its own: `root_cert_bundle` is that CA's PEM, what the registry's
auth.token.rootcertbundle must hold). distribution 2.8 (registry/auth/token/token.go, VerifySigningKey) takes
the key from x5c first and verifies the chain against the bundle; `aud` is one string there. Wrong or missing
credentials: 401 with a JSON error body. Every request is recorded (who, which scopes, the answer).
"""

from __future__ import annotations

import base64
import datetime
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

REALM_PATH = "/token"
TOKEN_LIFETIME = 300


@dataclass(frozen=True)
class TokenRequest:
    """One request to the realm, as the server saw and answered it."""

    user: str | None
    """The Basic-auth user name given (None: no credentials)."""
    service: str | None
    scopes: tuple[str, ...]
    status: int
    granted: tuple[tuple[str, str, tuple[str, ...]], ...] = ()
    """(type, name, actions) the token grants; empty when refused."""
    user_agent: str = ""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _certificate(
    subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Certificate | None, issuer_key: Any
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer is not None else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=issuer is not None,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=issuer is None,
                crl_sign=issuer is None,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    return builder.sign(issuer_key, hashes.SHA256())


def _granted(scopes: tuple[str, ...]) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """Everything asked for: `repository:team/app:pull,push` -> (repository, team/app, (pull, push))."""
    out: list[tuple[str, str, tuple[str, ...]]] = []
    for scope in scopes:
        for item in scope.split(" "):
            parts = item.split(":")
            if len(parts) < 3:
                continue
            kind, name, actions = parts[0], ":".join(parts[1:-1]), parts[-1]
            out.append((kind, name, tuple(a for a in actions.split(",") if a)))
    return tuple(out)


@dataclass
class TokenServer:
    """Issues tokens to `user`/`password` for `service`, signed as `issuer`. Use as a context manager."""

    user: str
    password: str
    service: str = "e2e-registry"
    issuer: str = "e2e-token-issuer"
    port: int = 0
    requests: list[TokenRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._ca_key = ec.generate_private_key(ec.SECP256R1())
        self._ca = _certificate("e2e token CA", self._ca_key, None, self._ca_key)
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._cert = _certificate("e2e token signer", self._key, self._ca, self._ca_key)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}{REALM_PATH}"

    @property
    def root_cert_bundle(self) -> str:
        """PEM of the CA the signing certificate chains to (public)."""
        return self._ca.public_bytes(serialization.Encoding.PEM).decode()

    def seen(self) -> list[TokenRequest]:
        with self._lock:
            return list(self.requests)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> TokenServer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def token(self, subject: str, granted: tuple[tuple[str, str, tuple[str, ...]], ...]) -> str:
        """A JWT for `subject` granting `granted`, as the realm answers it."""
        now = int(time.time())
        header = {
            "typ": "JWT",
            "alg": "ES256",
            "x5c": [base64.b64encode(self._cert.public_bytes(serialization.Encoding.DER)).decode()],
        }
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": now + TOKEN_LIFETIME,
            "nbf": now - 1,
            "iat": now,
            "jti": secrets.token_hex(16),
            "access": [{"type": kind, "name": name, "actions": list(actions)} for kind, name, actions in granted],
        }
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        der = self._key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)  # JWS ES256: r || s, 32 bytes each (RFC 7518 section 3.4)
        return f"{signing_input}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def _answer(self, authorization: str | None, query: dict[str, list[str]], agent: str) -> tuple[int, dict[str, Any]]:
        scopes = tuple(query.get("scope", []))
        service = query.get("service", [None])[0]
        user: str | None = None
        password: str | None = None
        if authorization and authorization.lower().startswith("basic "):
            try:
                user, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                user = password = None
        ok = (
            user is not None
            and password is not None
            and secrets.compare_digest(user.encode(), self.user.encode())
            and secrets.compare_digest(password.encode(), self.password.encode())
        )
        if not ok or service != self.service:
            message = "authentication required" if ok else f"unknown service {service!r}"
            if not ok and user is not None:
                message = f"invalid username or password for {user!r}"
            self._record(TokenRequest(user, service, scopes, 401, user_agent=agent))
            return 401, {"errors": [{"code": "UNAUTHORIZED", "message": message, "detail": None}]}
        granted = _granted(scopes)
        self._record(TokenRequest(user, service, scopes, 200, granted, agent))
        token = self.token(self.user, granted)
        issued = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return 200, {"token": token, "access_token": token, "expires_in": TOKEN_LIFETIME, "issued_at": issued}

    def _record(self, request: TokenRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path != REALM_PATH:
                    self._send(404, {"errors": [{"code": "NOT_FOUND", "message": url.path}]})
                    return
                status, body = server._answer(
                    self.headers.get("Authorization"), parse_qs(url.query), self.headers.get("User-Agent", "")
                )
                self._send(status, body)

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status == 401:
                    self.send_header("WWW-Authenticate", 'Basic realm="e2e token server"')
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler
