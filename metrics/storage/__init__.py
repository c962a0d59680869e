"""Retention: how state is kept, apart from the arithmetic. Three verbs, the same everywhere:

- **expire**: let go of state too old to matter (the steps say what; their callers delete it);
- **pack**: move state gone quiet out of memory, as bytes, into a cold store;
- **restore**: bring state back, from a cold store or a changelog.

Start reading here: :mod:`metrics.storage.packing` (the byte format),
:mod:`metrics.storage.cold` (the store interface, in memory here and SQLite in
:mod:`stream.cold_store`, behind :mod:`metrics.storage.key_filter`), then
:mod:`metrics.storage.cold_entities` and :mod:`metrics.storage.cold_visits`, which the
worker and the queue step use.
"""
