"""The wallboard's files ship in the package and make valid responses."""

from __future__ import annotations

from aiohttp import web

from stream.exporter.http import SERVED_PATHS
from stream.exporter.wallboard_files import ROUTES, SECURITY_HEADERS, WallboardFiles


def test_each_file_is_served_with_its_type_and_the_security_headers() -> None:
    files = WallboardFiles.load()
    for path in ROUTES:
        served = files.get(path)
        response = web.Response(body=served.body, content_type=served.content_type, headers=SECURITY_HEADERS)
        assert response.content_type == served.content_type and served.body and path in SERVED_PATHS
    assert b'<script src="/wallboard.js">' in files.get("/").body


def test_the_page_loads_nothing_from_elsewhere() -> None:
    """No internet at run time: every URL in the page's files is the worker's own."""
    files = WallboardFiles.load()
    for path in ROUTES:
        body = files.get(path).body.decode()
        assert "http://" not in body and "https://" not in body and "//cdn" not in body, path
