"""An action server on 127.0.0.1 for the tests: one HTTP server whose answers each test
chooses, in place of a copy per test file."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# A request's JSON -> the HTTP status and the body: a JSON value, or bytes sent as they are.
Answer = Callable[[dict[str, Any]], tuple[int, Any]]


class _QuietServer(ThreadingHTTPServer):
    """Says nothing when a client hangs up before its answer (the timeout tests do): the
    standard server prints a traceback for each."""

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


class LocalActionServer:
    """Answers every POST with ``answer(request)``; each request's JSON is kept in
    ``requests``. ``url`` is its webhook; `close` stops it."""

    def __init__(self, answer: Answer) -> None:
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(request)
                status, body = answer(request)
                body = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/webhook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
