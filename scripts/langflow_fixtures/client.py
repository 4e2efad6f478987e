"""Langflow's REST API through the standard library (the driver runs outside Langflow's venv)."""

from __future__ import annotations

import gzip
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


class LangflowError(RuntimeError):
    pass


class LangflowClient:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        api_key: str | None = None,
        form: dict[str, str] | None = None,
        timeout: float = 300,
    ) -> tuple[int, bytes]:
        headers = {"Accept": "application/json"}
        data: bytes | None = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if api_key:
            headers["x-api-key"] = api_key
        request = urllib.request.Request(
            self.base_url + path, data=data, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                raw = response.read()
                # Langflow 1.7 gzips /api/v1/all even when the client did not ask for it.
                if response.headers.get("Content-Encoding") == "gzip":
                    raw = gzip.decompress(raw)
                return response.status, raw
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def json(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        """A call that must succeed (2xx); its JSON answer."""
        status, raw = self.call(method, path, body, **kwargs)
        if not 200 <= status < 300:
            raise LangflowError(f"{method} {path}: HTTP {status}: {raw[:500]!r}")
        return json.loads(raw) if raw else None

    # --- users and credentials -------------------------------------------------------------
    def login(self, username: str, password: str) -> str:
        answer = self.json(
            "POST", "/api/v1/login", form={"username": username, "password": password}
        )
        return str(answer["access_token"])

    def create_user(self, admin_token: str, username: str, password: str) -> str:
        user = self.json("POST", "/api/v1/users/", {"username": username, "password": password})
        # Signed-up users start inactive unless the server says otherwise: activate explicitly.
        self.json("PATCH", f"/api/v1/users/{user['id']}", {"is_active": True}, token=admin_token)
        return str(user["id"])

    def whoami(self, token: str) -> dict[str, Any]:
        return dict(self.json("GET", "/api/v1/users/whoami", token=token))

    def create_api_key(self, token: str, name: str) -> str:
        return str(self.json("POST", "/api/v1/api_key/", {"name": name}, token=token)["api_key"])

    # --- components and flows --------------------------------------------------------------
    def all_components(self, token: str) -> dict[str, Any]:
        return dict(self.json("GET", "/api/v1/all", token=token))

    def custom_component(self, token: str, code: str) -> dict[str, Any]:
        """The node Langflow's editor would create for this component code."""
        return dict(self.json("POST", "/api/v1/custom_component", {"code": code}, token=token))

    def create_flow(self, token: str, name: str, data: dict[str, Any]) -> str:
        body = {"name": name, "data": data, "description": "FlowRun History fixture"}
        return str(self.json("POST", "/api/v1/flows/", body, token=token)["id"])

    def delete_flow(self, token: str, flow_id: str) -> None:
        self.json("DELETE", f"/api/v1/flows/{flow_id}", token=token)

    # --- runs ------------------------------------------------------------------------------
    def run(self, api_key: str, flow_id: str, text: str, session_id: str | None) -> tuple[int, Any]:
        """The API run endpoint (`/api/v1/run`): HTTP status and JSON answer (errors included)."""
        body: dict[str, Any] = {"input_value": text, "input_type": "chat", "output_type": "chat"}
        if session_id is not None:
            body["session_id"] = session_id
        status, raw = self.call(
            "POST", f"/api/v1/run/{flow_id}?stream=false", body, api_key=api_key, timeout=600
        )
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode(errors="replace")

    def build(self, token: str, flow_id: str, text: str, session_id: str) -> list[dict[str, Any]]:
        """A playground run as the editor makes it: start a build, read its events to the end."""
        inputs = {"input_value": text, "session": session_id}
        job = self.json("POST", f"/api/v1/build/{flow_id}/flow", {"inputs": inputs}, token=token)
        status, raw = self.call(
            "GET", f"/api/v1/build/{job['job_id']}/events?event_delivery=streaming", token=token
        )
        if status != 200:
            raise LangflowError(f"build events for {flow_id}: HTTP {status}: {raw[:300]!r}")
        events = [json.loads(line) for line in raw.decode().splitlines() if line.strip()]
        return [{"job_id": job["job_id"]}, *events]
