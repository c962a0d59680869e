"""What the worker's HTTP port answers: the documented paths only, all behind the same auth.

faust serves pages of its own on the web port (``/``, ``/router/...``, ``/table/...``) that
would give away host names and let anyone probe call ids. The worker turns faust's pages
off, and this middleware, which sees every request before any page does, answers 401 to a
request without the configured credentials and 404 to a path the product does not
document, whichever page faust may add in a later version. Usage::

    guard = HttpGuard({"/metrics", "/healthz", "/readyz"}, BasicAuth("prometheus", "s3cret"))
    app = faust.App(..., web_application_options={"middlewares": [guard.middleware]})
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection

from aiohttp import web

from stream.basic_auth import BasicAuth

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
METHODS = frozenset({"GET", "HEAD"})


class HttpGuard:
    """Lets through only authorised GET and HEAD requests for the ``served`` paths."""

    def __init__(self, served: Collection[str], auth: BasicAuth | None) -> None:
        self.served = frozenset(served)
        self.auth = auth

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self.auth is not None and not self.auth.allows(request.headers.get("Authorization")):
            return web.Response(
                status=401,
                text="authentication required\n",
                headers={"WWW-Authenticate": self.auth.challenge},
            )
        if request.path not in self.served:
            return web.Response(status=404, text="not found\n")
        if request.method not in METHODS:
            return web.Response(status=405, text="method not allowed\n", headers={"Allow": "GET, HEAD"})
        return await handler(request)
