"""The rejection record: always small enough to send, whatever the rejected message was."""

from __future__ import annotations

import base64
import hashlib

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stream.rejection_record import MAX_KEY_BYTES, MAX_RECORD_BYTES, PAYLOAD_PREFIX_BYTES, rejection_record

ORIGIN = {"topic": "t" * 249, "partition": 2**31 - 1, "offset": 2**63 - 1}
# pieces that grow most when escaped or encoded, and pieces a cut can land inside
PIECES = [b"\x01", b"\x1f", b'"', b"\\", b"\xff", b"\x80", "é".encode(), "😀".encode(), b"[", b"a", b"\n"]


@st.composite
def payloads(draw: st.DrawFn) -> bytes:
    """Up to about four prefixes long, built of repeated hostile pieces."""
    runs = draw(st.lists(st.tuples(st.sampled_from(PIECES), st.integers(1, 20_000)), min_size=1, max_size=6))
    return b"".join(piece * count for piece, count in runs)


def prefix_kept(record: dict[str, object]) -> bytes:
    if "payload" in record:
        return str(record["payload"]).encode()
    return base64.b64decode(str(record["payload_base64"]))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    raw=payloads() | st.binary(max_size=4 * PAYLOAD_PREFIX_BYTES),
    key=st.none() | st.binary(max_size=3 * MAX_KEY_BYTES),
    detail=st.text(max_size=5000),
)
def test_a_record_is_bounded_and_describes_the_whole_payload(
    raw: bytes, key: bytes | None, detail: str
) -> None:
    record_key, value = rejection_record("bad_json", detail, key, raw, ORIGIN)
    assert len(value) <= MAX_RECORD_BYTES
    record = orjson.loads(value)
    assert record["payload_bytes"] == len(raw)
    assert record["payload_sha256"] == hashlib.sha256(raw).hexdigest()
    kept = prefix_kept(record)
    assert raw.startswith(kept) and len(kept) >= min(len(raw), PAYLOAD_PREFIX_BYTES) - 3  # a cut character
    assert record.get("payload_truncated", False) == (len(raw) > PAYLOAD_PREFIX_BYTES)
    if key is not None and len(key) > MAX_KEY_BYTES:
        assert record_key is None and record["key_sha256"] == hashlib.sha256(key).hexdigest()
    else:
        assert record_key == key


@pytest.mark.parametrize("piece", [b"\x01", b'"', b"\\", b"\xff"])
def test_a_message_as_large_as_kafka_takes_gives_a_record_far_smaller(piece: bytes) -> None:
    _, value = rejection_record("too_large", "x" * 10_000, b"k", piece * 1_048_576, ORIGIN)
    assert len(value) <= MAX_RECORD_BYTES < 128 * 1024


def test_a_small_payload_is_kept_whole_as_text_or_base64() -> None:
    text = orjson.loads(rejection_record("bad_json", "d", b"c1", b"{not json", {})[1])
    binary = orjson.loads(rejection_record("bad_encoding", "d", b"c1", b"\xff\x00\xfe", {})[1])
    assert (text["payload"], "payload_truncated" in text) == ("{not json", False)
    assert binary["payload_base64"] == "/wD+"
