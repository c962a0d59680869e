"""Agents' calls gone quiet, packed in a cold store, keyed by agent and call.

The agent board puts the calls a ledger releases here and reads them back as
:class:`~metrics.agent_calls.AgentCall`; like a call record, each is kept until twice the
maximum call age after the call's newest event. Usage::

    cold = ColdAgentCalls(InMemoryCold(), settings)
    cold.put(partition, calls)
    cold.get("a1", "c1")                       # the AgentCall, or None
    cold.expire(partition, now_us)             # the calls whose time has come, gone from the store
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Iterator

from metrics.agent_calls import AgentCall
from metrics.settings import Settings
from metrics.storage.cold import ColdStore, InMemoryCold
from metrics.storage.cold_visits import split_key, visit_key
from metrics.storage.packing import pack_agent_call, packed_last_us, unpack_agent_call


class ColdAgentCalls:
    """A :class:`~metrics.storage.cold.ColdStore` of packed agent calls, read and written as such."""

    def __init__(self, store: ColdStore | None, settings: Settings) -> None:
        self.store: ColdStore = InMemoryCold() if store is None else store
        self.keep_us = settings.limits.expire_call_after_us

    def get(self, agent_id: str, call_id: str) -> AgentCall | None:
        data = self.store.get(visit_key(agent_id, call_id))
        return None if data is None else unpack_agent_call(call_id, agent_id, data)

    def put(self, partition: int, calls: Iterable[AgentCall]) -> list[str]:
        """Pack and keep ``calls``; their keys."""
        rows = [
            (visit_key(c.agent_id, c.call_id), c.last_us + self.keep_us, pack_agent_call(c)) for c in calls
        ]
        self.store.put(partition, rows)
        return [key for key, _, _ in rows]

    def delete(self, agent_id: str, call_ids: Iterable[str]) -> None:
        self.store.delete(visit_key(agent_id, call_id) for call_id in call_ids)

    def expire(self, partition: int, now_us: int) -> list[AgentCall]:
        """Remove and return the calls of ``partition`` whose records expired before ``now_us``."""
        return [_unpacked(key, data) for key, data in self.store.expire(partition, now_us)]

    def items(self) -> Iterator[AgentCall]:
        return (_unpacked(key, data) for key, data in self.store.items())

    def keep_partitions(self, owned: Container[int]) -> None:
        self.store.keep_partitions(owned)

    def expiry(self, key: str, data: bytes) -> int:
        """When a packed agent call expires: as its call record does."""
        return packed_last_us(data) + self.keep_us

    def __len__(self) -> int:
        return len(self.store)


def _unpacked(key: str, data: bytes) -> AgentCall:
    agent_id, call_id = split_key(key)
    return unpack_agent_call(call_id, agent_id, data)
