"""Agents' calls gone quiet, packed in a cold store, keyed by agent and call.

The agent board puts the calls a ledger releases here and reads them back as
:class:`~metrics.agent_calls.AgentCall`; like a call record, each is kept until twice the
maximum call age after the call's newest event. Usage::

    cold = ColdAgentCalls(InMemoryCold(), settings)
    cold.put(partition, calls)
    cold.get("a1", "c1")                       # the AgentCall, or None
"""

from __future__ import annotations

from metrics.agent_calls import AgentCall
from metrics.settings import Settings
from metrics.storage.cold import ColdStore
from metrics.storage.cold_pairs import ColdPairs
from metrics.storage.packing import pack_agent_call, unpack_agent_call


class ColdAgentCalls(ColdPairs[AgentCall]):
    """Packed agent calls by agent and call."""

    def __init__(self, store: ColdStore | None, settings: Settings) -> None:
        keep = settings.limits.expire_call_after_us
        super().__init__(store, pack_agent_call, _unpack, _key_of, lambda agent: keep)


def _unpack(agent_id: str, call_id: str, data: bytes) -> AgentCall:
    return unpack_agent_call(call_id, agent_id, data)


def _key_of(told: AgentCall) -> tuple[str, str]:
    return told.agent_id, told.call_id
