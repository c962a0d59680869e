"""The record that goes to ``callcenter.rejected``: bounded in size, whatever was received.

A rejected message can be as large as Kafka allows, and escaping it as JSON (control
characters become six bytes each) or as base64 makes it larger still: forwarded whole, it
would not fit in a message of its own, and the worker could not go on. The record keeps a
prefix of the payload, its size and a SHA-256 of the whole, so the original can be found in
the source topic (``topic``, ``partition``, ``offset``) and recognised. Usage::

    key, value = rejection_record("bad_json", "unexpected character", b"c1", raw, {"offset": 7})
    assert len(value) <= MAX_RECORD_BYTES  # and the key is the message's, unless over 1 KiB
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import orjson

PAYLOAD_PREFIX_BYTES = 16 * 1024
MAX_DETAIL_CHARS = 1024
MAX_KEY_BYTES = 1024  # a longer Kafka key is left off the record; its size and sha256 stay
MAX_ORIGIN_BYTES = 1024  # topic (at most 249 characters), partition and offset
# Escaped, a byte of the prefix takes at most six (\u001f); a character of the detail at
# most six too (and a multi-byte character no more than its UTF-8 bytes, which orjson keeps).
MAX_RECORD_BYTES = 6 * PAYLOAD_PREFIX_BYTES + 6 * MAX_DETAIL_CHARS + MAX_ORIGIN_BYTES + 1024


def rejection_record(
    reason: str, detail: str, key: bytes | None, raw: bytes, origin: dict[str, Any]
) -> tuple[bytes | None, bytes]:
    """Kafka key and JSON value for a rejected message; the value is at most :data:`MAX_RECORD_BYTES`.

    >>> import orjson
    >>> _, value = rejection_record("bad_json", "not JSON", b"c1", b"x" * 20_000, {"offset": 7})
    >>> record = orjson.loads(value)
    >>> record["payload_bytes"], len(record["payload"]), record["payload_truncated"]
    (20000, 16384, True)
    """
    record: dict[str, Any] = {"reason": reason, "detail": detail[:MAX_DETAIL_CHARS], **origin}
    record.update(_payload_fields(raw))
    if key is not None and len(key) > MAX_KEY_BYTES:
        record["key_bytes"], record["key_sha256"] = len(key), hashlib.sha256(key).hexdigest()
        key = None
    return key, orjson.dumps(record)


def _payload_fields(raw: bytes) -> dict[str, Any]:
    """The payload as text (``payload``) if it is UTF-8, else as base64 (``payload_base64``)."""
    head = raw[:PAYLOAD_PREFIX_BYTES]
    fields: dict[str, Any] = {}
    text = _utf8_prefix(head, cut=len(head) < len(raw))
    if text is None:
        fields["payload_base64"] = base64.b64encode(head).decode()
    else:
        fields["payload"] = text
    if len(head) < len(raw):
        fields["payload_truncated"] = True
    fields["payload_bytes"] = len(raw)
    fields["payload_sha256"] = hashlib.sha256(raw).hexdigest()
    return fields


def _utf8_prefix(head: bytes, cut: bool) -> str | None:
    """``head`` decoded; if it was cut inside a character, without that character's start."""
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as error:
        if cut and error.reason == "unexpected end of data" and error.start >= len(head) - 3:
            return head[: error.start].decode("utf-8")
        return None
