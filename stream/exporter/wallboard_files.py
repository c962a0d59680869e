"""The wallboard page's three files (``stream/exporter/wallboard/``), served by the worker.

Plain HTML, one script and one stylesheet, shipped in the package: no build step, nothing
fetched from the internet. The page reads ``/api/v1/queues`` and ``/api/v1/agents`` from the
same origin (docs/wallboard.md). Usage::

    files = WallboardFiles.load()
    files.get("/")            # StaticFile(body=b"<!doctype html>...", content_type="text/html; ...")
"""

from __future__ import annotations

from importlib import resources
from typing import NamedTuple

# what the page may load: only its own files and API (no inline script, no other origin)
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}
ROUTES = {
    "/": ("index.html", "text/html"),  # UTF-8: the page says so, its script and style follow it
    "/wallboard.js": ("wallboard.js", "text/javascript"),
    "/wallboard.css": ("wallboard.css", "text/css"),
}


class StaticFile(NamedTuple):
    body: bytes
    content_type: str


class WallboardFiles:
    """The page's files, read from the package once."""

    def __init__(self, files: dict[str, StaticFile]) -> None:
        self.files = files

    @classmethod
    def load(cls) -> WallboardFiles:
        folder = resources.files("stream.exporter") / "wallboard"
        return cls(
            {
                path: StaticFile(folder.joinpath(name).read_bytes(), kind)
                for path, (name, kind) in ROUTES.items()
            }
        )

    def get(self, path: str) -> StaticFile:
        return self.files[path]
