"""Private names of faust (and aiokafka) the worker relies on: an upgrade that removes one fails
here, by name."""

from __future__ import annotations

from importlib.metadata import version

from stream.faust_internals import PRIVATE_NAMES, PrivateName, missing_private_names

PINNED = "0.15.3"  # pyproject.toml; each private name below was checked against this release


def test_faust_is_the_release_its_internals_were_checked_against() -> None:
    assert version("faust-streaming") == PINNED, "read stream/faust_internals.py before upgrading faust"


def test_every_private_name_used_still_exists() -> None:
    gone = missing_private_names()
    assert gone == [], "faust, mode or aiokafka no longer has these: see stream/faust_internals.py"


def test_the_check_finds_a_name_that_is_not_there() -> None:
    gone = PrivateName("faust.tables.base:Collection", "_gone")
    assert missing_private_names([*PRIVATE_NAMES[:2], gone]) == ["faust.tables.base:Collection._gone"]
