"""A local HTTPS webhook receiver for tests: http.server in a thread, verifying every signature with
the ``standardwebhooks`` package (an independent implementation of the spec)."""

from __future__ import annotations

import http.server
import ssl
import threading
from collections import deque
from dataclasses import dataclass, field

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from bench.fakepush import make_certificate


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    verified_with: list[str]  # the names of the receivers' secrets that verified it
    status: int


@dataclass
class Receiver:
    """Answers each POST with the next scripted status (200 once the script is used up)."""

    secrets: dict[str, str] = field(default_factory=dict)  # name -> whsec_…
    script: deque[int] = field(default_factory=deque)
    received: list[Received] = field(default_factory=list)
    port: int = 0
    cafile: str = ""

    def verify(self, body: bytes, headers: dict[str, str]) -> list[str]:
        names = []
        for name, secret in self.secrets.items():
            try:
                Webhook(secret).verify(body, headers)
            except WebhookVerificationError:
                continue
            names.append(name)
        return names

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}/hooks"


def start(receiver: Receiver) -> tuple[http.server.ThreadingHTTPServer, threading.Thread]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status = receiver.script.popleft() if receiver.script else 200
            receiver.received.append(Received(headers, body, receiver.verify(body, headers), status))
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    cert, key = make_certificate()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    receiver.port, receiver.cafile = server.server_address[1], cert
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread
