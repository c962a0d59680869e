"""HTTP basic auth for ``/metrics``: one configured user, compared in constant time."""

from __future__ import annotations

import base64
import binascii
import hmac


class BasicAuth:
    """Checks ``Authorization`` headers against one username and password.

    >>> auth = BasicAuth("prometheus", "s3cret")
    >>> auth.allows("Basic " + base64.b64encode(b"prometheus:s3cret").decode())
    True
    >>> auth.allows(None)
    False
    """

    challenge = 'Basic realm="ccmetrics", charset="UTF-8"'

    def __init__(self, username: str, password: str) -> None:
        self._expected = f"{username}:{password}".encode()

    def allows(self, header: str | None) -> bool:
        scheme, _, token = (header or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = base64.b64decode(token, validate=True)
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(given, self._expected)
