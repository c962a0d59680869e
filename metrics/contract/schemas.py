"""JSON Schemas (draft 2020-12) for every event type, built from the decoder's field table.

``python -m metrics.contract.schemas`` writes them to ``metrics/contract/schemas/``, where
publishers find them; a test checks the committed files are current and agree with
:func:`metrics.contract.decode.decode`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Final

from metrics.contract.events import (
    AGENT_STATES,
    DATA_FIELDS,
    FLOW_OUT_REASONS,
    MAX_AGENT_QUEUES,
    MAX_ID_CHARS,
    MAX_QUEUE_CHARS,
    ONE_OR_MORE_OF,
    SURVEY_SCORES,
)

FOLDER: Final = Path(__file__).parent / "schemas"
RFC3339: Final = r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
_ID: Final = {"type": "string", "minLength": 1, "maxLength": MAX_ID_CHARS}
_QUEUE: Final = {"type": "string", "minLength": 1, "maxLength": MAX_QUEUE_CHARS}
FIELD_SCHEMAS: Final[dict[str, dict[str, Any]]] = {
    "call_id": _ID,
    "agent_id": _ID,
    "queue": _QUEUE,
    "to_queue": _QUEUE,
    "caller": {**_ID, "description": "personal data: never kept, never logged"},
    "priority": {"type": "integer"},
    "wrapup": {"type": "boolean", "default": False},
    "state": {"enum": list(AGENT_STATES)},
    "queues": {"type": "array", "items": _QUEUE, "maxItems": MAX_AGENT_QUEUES},
    **{
        name: {"type": "integer", "minimum": low, "maximum": high}
        for name, (low, high) in SURVEY_SCORES.items()
    },
}


def json_schema(event_type: str) -> dict[str, Any]:
    """The schema of one event type, envelope included."""
    required, optional = DATA_FIELDS[event_type]
    properties = {name: _field(event_type, name) for name in (*required, *optional)}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:ccmetrics:event:{event_type}",
        "title": f"ccmetrics {event_type} event (CloudEvents 1.0, structured JSON)",
        "type": "object",
        "required": ["specversion", "id", "source", "type", "time", "data"],
        "properties": {
            "specversion": {"const": "1.0"},
            "id": {**_ID, "description": "unique per event; a re-sent event keeps its id"},
            "source": _ID,
            "type": {"const": event_type},
            "time": {"type": "string", "pattern": RFC3339, "description": "event time, RFC 3339 with offset"},
            "data": {
                "type": "object",
                "required": list(required),
                "properties": properties,
                **_one_of(event_type),
            },
        },
    }


def _one_of(event_type: str) -> dict[str, Any]:
    """One or more of some optional fields (a survey's scores)."""
    names = ONE_OR_MORE_OF.get(event_type)
    return {"anyOf": [{"required": [name]} for name in names]} if names else {}


def _field(event_type: str, name: str) -> dict[str, Any]:
    if name == "reason":
        return {"enum": sorted(FLOW_OUT_REASONS)} if event_type == "call.flowed_out" else _ID
    return FIELD_SCHEMAS[name]


def rendered(event_type: str) -> str:
    return json.dumps(json_schema(event_type), indent=2) + "\n"


def main() -> int:
    FOLDER.mkdir(exist_ok=True)
    for event_type in DATA_FIELDS:
        (FOLDER / f"{event_type}.json").write_text(rendered(event_type))
    print(f"wrote {len(DATA_FIELDS)} schemas to {FOLDER}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
