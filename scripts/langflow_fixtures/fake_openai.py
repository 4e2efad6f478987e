"""A tiny OpenAI-compatible chat server on 127.0.0.1, so Langflow's OpenAI component records a
real LLM span with token counts without any network.

It answers `POST /v1/chat/completions` (plain, with a `usage` block; streamed, with a usage chunk
when the request asks for one, as OpenAI does) and `GET /v1/models`. Token counts are fixed per
call, so the manifest can state exact expectations.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PROMPT_TOKENS = 21
COMPLETION_TOKENS = 8
MODEL = "gpt-4o-mini"


def _reply_text(body: dict[str, Any]) -> str:
    messages = body.get("messages") or []
    last = messages[-1].get("content", "") if messages else ""
    if isinstance(last, list):  # content parts
        last = " ".join(str(part.get("text", "")) for part in last if isinstance(part, dict))
    return f"fixture reply to: {str(last)[:40]}"


def _usage() -> dict[str, int]:
    return {
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": COMPLETION_TOKENS,
        "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
    }


class _Handler(BaseHTTPRequestHandler):
    server_version = "fixture-openai/1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the caller counts calls
        pass

    def _send_json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._send_json(200, {"object": "list", "data": [{"id": MODEL, "object": "model"}]})
        else:
            self._send_json(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send_json(404, {"error": {"message": "not found"}})
            return
        server: FakeOpenAI = self.server.owner  # type: ignore[attr-defined]
        server.record(body)
        model = body.get("model") or MODEL
        text = _reply_text(body)
        created = int(time.time())
        if body.get("stream"):
            options = body.get("stream_options") or {}
            self._stream(model, text, created, bool(options.get("include_usage")))
            return
        self._send_json(
            200,
            {
                "id": f"chatcmpl-fixture-{server.calls}",
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                    }
                ],
                "usage": _usage(),
            },
        )

    def _stream(self, model: str, text: str, created: int, include_usage: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        base = {"id": "chatcmpl-fixture-stream", "object": "chat.completion.chunk"}
        base |= {"created": created, "model": model}
        chunks: list[dict[str, Any]] = [
            base | {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}
        ]
        for word in text.split(" "):
            delta = {"content": word + " "}
            chunks.append(base | {"choices": [{"index": 0, "delta": delta}]})
        stop = {"index": 0, "delta": {}, "finish_reason": "stop"}
        chunks.append(base | {"choices": [stop]})
        if include_usage:  # like OpenAI: usage in a stream only when the client asks for it
            chunks.append(base | {"choices": [], "usage": _usage()})
        for chunk in chunks:
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


class FakeOpenAI:
    """Start with `with FakeOpenAI() as fake:`; `fake.base_url` ends in `/v1`."""

    def __init__(self) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self  # type: ignore[attr-defined]
        self._lock = threading.Lock()
        self.calls = 0
        self.streamed_calls = 0
        self.usage_requested = 0  # streamed calls that asked for a usage chunk
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def record(self, body: dict[str, Any]) -> None:
        with self._lock:
            self.calls += 1
            self.streamed_calls += bool(body.get("stream"))
            options = body.get("stream_options") or {}
            self.usage_requested += bool(body.get("stream") and options.get("include_usage"))

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
