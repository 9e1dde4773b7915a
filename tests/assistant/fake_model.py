"""A chat-completions server on 127.0.0.1 that plays back scripted answers.

Each request takes the next step of the script: an answer text, an HTTP error with
optional headers, or a delay before either. The server records every request body
and header so tests can check what left the app.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Step:
    """One scripted response."""

    text: str = ""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    raw: bytes | None = None
    usage: dict[str, int] | None = None


def answer(text: str, **usage: int) -> Step:
    return Step(text=text, usage=usage or None)


def error(status: int, **headers: str) -> Step:
    return Step(status=status, headers=headers)


def slow(seconds: float, text: str = "late") -> Step:
    return Step(text=text, delay=seconds)


class FakeModel:
    def __init__(self) -> None:
        self.script: list[Step] = []
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with fake.lock:
                    fake.requests.append(body)
                    fake.headers.append(dict(self.headers))
                    step = fake.script.pop(0) if fake.script else Step(status=500)
                if step.delay:
                    time.sleep(step.delay)
                if self.path != "/v1/chat/completions":
                    step = Step(status=404)
                if step.raw is not None:
                    payload = step.raw
                elif step.status == 200:
                    data: dict[str, Any] = {
                        "id": "chatcmpl-test",
                        "object": "chat.completion",
                        "model": body.get("model", ""),
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": step.text},
                                "finish_reason": "stop",
                            }
                        ],
                    }
                    if step.usage is not None:
                        data["usage"] = step.usage
                    payload = json.dumps(data).encode()
                else:
                    payload = json.dumps({"error": {"message": "scripted"}}).encode()
                try:
                    self.send_response(step.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in step.headers.items():
                        self.send_header(name.replace("_", "-"), value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> FakeModel:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def play(self, *steps: Step) -> None:
        with self.lock:
            self.script = list(steps)

    def prompt_text(self, index: int = -1) -> str:
        """Return every message content of one recorded request, joined."""
        return "\n".join(m["content"] for m in self.requests[index]["messages"])
