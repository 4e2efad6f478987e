"""Size limits on requests, answered in the API's JSON error shape.

The body cap (``FLOWRUNS_MAX_BODY_BYTES``) is enforced while the body streams in: a
declared ``Content-Length`` above it is refused before anything is read, and a chunked
body is counted as it arrives, so no more than the cap (plus one chunk) is ever held.
URL and header caps sit below uvicorn's own h11 limit (16 KiB for the request line and
headers together), so they are reached first and answered as JSON; beyond that limit
the server itself answers with a plain-text 400 (see docs/api.md).
"""

from __future__ import annotations

import json

from fastapi import HTTPException, status
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# 200 repeated flow_id values (the filter's limit) take about 9 KiB of query string.
MAX_URL_BYTES = 12 * 1024
MAX_HEADER_BYTES = 8 * 1024


def _too_large(max_body_bytes: int) -> str:
    return f"body: larger than the limit of {max_body_bytes} bytes (FLOWRUNS_MAX_BODY_BYTES)"


async def send_json_error(send: Send, code: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": code,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                # The rest of an oversized request is never read: end the connection.
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _header_problem(scope: Scope, max_body_bytes: int) -> tuple[int, str] | None:
    path = scope.get("raw_path") or scope["path"].encode()
    if len(path) + len(scope.get("query_string", b"")) > MAX_URL_BYTES:
        return status.HTTP_414_URI_TOO_LONG, f"URL: longer than {MAX_URL_BYTES} bytes"
    headers = scope.get("headers", [])
    if sum(len(name) + len(value) for name, value in headers) > MAX_HEADER_BYTES:
        return (
            status.HTTP_431_REQUEST_HEADER_FIELDS_TOO_LARGE,
            f"headers: larger than {MAX_HEADER_BYTES} bytes in total",
        )
    for name, value in headers:
        if name == b"content-length":
            if not value.isdigit():
                return status.HTTP_400_BAD_REQUEST, "Content-Length: not a number"
            if int(value) > max_body_bytes:
                return status.HTTP_413_CONTENT_TOO_LARGE, _too_large(max_body_bytes)
    return None


class RequestLimits:
    """Pure ASGI middleware: URL, header and body caps (see the module docstring)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = _header_problem(scope, self.max_body_bytes)
        if problem is not None:
            await send_json_error(send, *problem)
            return
        received = 0

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    # Raised inside the route's body read: FastAPI answers it as JSON.
                    raise HTTPException(
                        status.HTTP_413_CONTENT_TOO_LARGE, _too_large(self.max_body_bytes)
                    )
            return message

        await self.app(scope, counted_receive, send)
