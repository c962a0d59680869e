"""The event contract in one place: what publishers send and what the steps read.

Start reading here: :mod:`metrics.contract.events` (types, fields, limits, :class:`Event`),
:mod:`metrics.contract.decode` (a raw CloudEvent checked against them) and
:mod:`metrics.contract.schemas` (the JSON Schemas in ``schemas/``, generated from the same
tables; a test checks the committed files are current). docs/events.md says it for people.
"""
