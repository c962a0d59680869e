"""faust codecs for the worker's table values: compact orjson, no pickling."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from faust.serializers import codecs

from metrics.agent_calls import AgentCall
from metrics.agents import AgentHistory, told_from_json
from metrics.callers import CallerHistory
from metrics.calls import CallRecord
from metrics.settled import Settled
from metrics.storage.packing import pack_agent_call, pack_call, pack_caller, pack_visit
from metrics.visits import Visit


def encode_state(value: Any) -> bytes:
    """A table value as stored in its changelog: the orjson of its ``to_json()``."""
    return orjson.dumps(value.to_json())


class _JsonState(codecs.Codec):
    """Turns a state object into orjson bytes with ``to_json`` and back with ``from_json``."""

    def __init__(self, load: Callable[[Any], Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._load = load

    def _dumps(self, value: Any) -> bytes:
        return encode_state(value)

    def _loads(self, data: bytes) -> Any:
        return self._load(orjson.loads(data))


class _Text(codecs.Codec):
    def _dumps(self, value: Any) -> bytes:
        return str(value).encode()

    def _loads(self, data: bytes) -> str:
        return data.decode()


def _packed_call(data: dict[str, Any]) -> bytes:
    """A recovered call record, packed: most calls read back are over (metrics/storage/packing.py).

    Packed as it is read, not later: objects made for all of a recovery and then dropped
    would leave the heap full of holes.
    """
    return pack_call(CallRecord.from_json(data))


def _packed_visit(row: list[Any]) -> bytes:
    """A recovered visit, packed, for the same reasons (its key names its queue and call)."""
    return pack_visit(Visit.from_json(row))


def _packed_agent_call(row: list[Any]) -> bytes:
    """A recovered agent's call, packed, for the same reasons (its key names its agent and call)."""
    return pack_agent_call(AgentCall.from_json(row))


def _packed_caller(row: list[Any]) -> bytes:
    """A recovered caller's history, packed (its key is the caller's hash): most are quiet."""
    return pack_caller(CallerHistory.from_json(row))


def register_codecs() -> None:
    """Make the codec names used by the worker's tables known to faust."""
    codecs.register("ccm-str", _Text())
    codecs.register("ccm-call", _JsonState(_packed_call))
    codecs.register("ccm-visit", _JsonState(_packed_visit))
    codecs.register("ccm-agent", _JsonState(AgentHistory.from_json))
    codecs.register("ccm-told", _JsonState(told_from_json))
    codecs.register("ccm-settled", _JsonState(Settled.from_json))
    codecs.register("ccm-agent-call", _JsonState(_packed_agent_call))
    codecs.register("ccm-caller", _JsonState(_packed_caller))
