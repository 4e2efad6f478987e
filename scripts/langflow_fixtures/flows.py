"""Flow documents as Langflow's editor saves them: nodes made from Langflow's own component
templates (`/api/v1/all`, `/api/v1/custom_component`) and edges between their handles."""

from __future__ import annotations

import copy
import json
from typing import Any

# Custom components, compiled by Langflow itself (POST /api/v1/custom_component).
_HEAD = """\
import asyncio

from lfx.custom.custom_component.component import Component
from lfx.io import FloatInput, MessageTextInput, Output
from lfx.schema.message import Message
"""

UPPER_CODE = (
    _HEAD
    + """

class FixtureUpper(Component):
    display_name = "Fixture Upper"
    description = "Upper-cases its input."
    inputs = [MessageTextInput(name="input_value", display_name="Input")]
    outputs = [Output(display_name="Output", name="output", method="build_output")]

    def build_output(self) -> Message:
        return Message(text=str(self.input_value).upper())
"""
)

SLEEP_CODE = (
    _HEAD
    + """

class FixtureSleep(Component):
    display_name = "Fixture Sleep"
    description = "Waits, then passes its input on."
    inputs = [
        MessageTextInput(name="input_value", display_name="Input"),
        FloatInput(name="seconds", display_name="Seconds", value=2.0),
    ]
    outputs = [Output(display_name="Output", name="output", method="build_output")]

    async def build_output(self) -> Message:
        await asyncio.sleep(float(self.seconds))
        return Message(text=f"slept {self.seconds}s: {self.input_value}")
"""
)

FAIL_MESSAGE = "fixture failure: the input was rejected"
FAIL_CODE = (
    _HEAD
    + f'''

class FixtureFail(Component):
    display_name = "Fixture Fail"
    description = "Always raises."
    inputs = [MessageTextInput(name="input_value", display_name="Input")]
    outputs = [Output(display_name="Output", name="output", method="build_output")]

    def build_output(self) -> Message:
        raise ValueError("{FAIL_MESSAGE}")
'''
)


def _handle(data: dict[str, Any]) -> str:
    # The editor stores handles as JSON with 'œ' for quotes; the engine reads edge["data"].
    return json.dumps(data, separators=(",", ":")).replace('"', "œ")


class FlowBuilder:
    """A linear chain of components: each one's chosen output feeds the next one's input field."""

    def __init__(self) -> None:
        self.nodes: list[dict[str, Any]] = []
        self.edges: list[dict[str, Any]] = []

    def add(
        self,
        component: dict[str, Any],
        node_type: str,
        values: dict[str, Any] | None = None,
    ) -> str:
        node = copy.deepcopy(component)
        for field, value in (values or {}).items():
            node["template"][field]["value"] = value
            node["template"][field].pop("load_from_db", None)
        node_id = f"{node_type}-fx{len(self.nodes):03d}"
        self.nodes.append(
            {
                "id": node_id,
                "type": "genericNode",
                "position": {"x": 400 * len(self.nodes), "y": 0},
                "data": {"id": node_id, "type": node_type, "node": node},
            }
        )
        return node_id

    def connect(self, source: str, output: str, target: str, field: str) -> None:
        src = self._node(source)
        tgt = self._node(target)
        out = next(o for o in src["outputs"] if o["name"] == output)
        inp = tgt["template"][field]
        source_handle = {
            "dataType": source.rsplit("-", 1)[0],
            "id": source,
            "name": output,
            "output_types": out["types"],
        }
        target_handle = {
            "fieldName": field,
            "id": target,
            "inputTypes": inp.get("input_types"),
            "type": inp.get("type"),
        }
        self.edges.append(
            {
                "id": f"reactflow__edge-{source}-{target}",
                "source": source,
                "target": target,
                "sourceHandle": _handle(source_handle),
                "targetHandle": _handle(target_handle),
                "data": {"sourceHandle": source_handle, "targetHandle": target_handle},
            }
        )

    def _node(self, node_id: str) -> dict[str, Any]:
        return next(n["data"]["node"] for n in self.nodes if n["id"] == node_id)

    def document(self) -> dict[str, Any]:
        return {"nodes": self.nodes, "edges": self.edges, "viewport": {"x": 0, "y": 0, "zoom": 1}}


def chain(
    chat_input: dict[str, Any],
    middle: list[tuple[str, dict[str, Any], dict[str, Any] | None, str]],
    chat_output: dict[str, Any],
) -> dict[str, Any]:
    """Chat Input -> each (type, component, values, output name) -> Chat Output."""
    flow = FlowBuilder()
    previous, previous_output = flow.add(chat_input, "ChatInput"), "message"
    for node_type, component, values, output in middle:
        node = flow.add(component, node_type, values)
        flow.connect(previous, previous_output, node, "input_value")
        previous, previous_output = node, output
    last = flow.add(chat_output, "ChatOutput")
    flow.connect(previous, previous_output, last, "input_value")
    return flow.document()


def webhook_to_output(webhook: dict[str, Any], chat_output: dict[str, Any]) -> dict[str, Any]:
    """Webhook -> Chat Output: what `POST /api/v1/webhook/{flow_id}` runs."""
    flow = FlowBuilder()
    source = flow.add(webhook, "Webhook")
    target = flow.add(chat_output, "ChatOutput")
    flow.connect(source, "output_data", target, "input_value")
    return flow.document()
