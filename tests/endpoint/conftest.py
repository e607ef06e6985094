"""A real local HTTP server that answers from a script, for client and capability tests."""

from __future__ import annotations

import http.server
import json
import threading
import time

import pytest

OK = {"choices": [{"text": "hi"}], "usage": {"prompt_tokens": 7, "completion_tokens": 2}}


class ScriptedServer:
    """Answers requests from a list of (status, body, headers, delay_s); then 200 OK."""

    def __init__(self) -> None:
        self.ok = OK
        self.script: list[tuple[int, object, dict, float]] = []
        self.requests: list[dict] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                with owner.lock:
                    owner.requests.append({"headers": dict(self.headers), "body": body})
                    step = owner.script.pop(0) if owner.script else (200, OK, {}, 0.0)
                    owner.in_flight += 1
                    owner.max_in_flight = max(owner.max_in_flight, owner.in_flight)
                status, answer, headers, delay = step
                time.sleep(delay)
                with owner.lock:
                    owner.in_flight -= 1
                if isinstance(answer, dict) and "echo_index" in answer:
                    answer = {**OK, "index": body["i"]}
                data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST  # noqa: N815

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    """A :class:`ScriptedServer` on 127.0.0.1, closed after the test."""
    s = ScriptedServer()
    yield s
    s.close()
