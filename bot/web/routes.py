"""Every (method, path) the app serves, flattened across included routers (security tests and docs use it).

FastAPI ≥ 0.13x keeps included routers as lazy ``_IncludedRouter`` entries in ``app.routes``; older versions copy
the routes. Both are handled.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI


def iter_endpoints(app: FastAPI) -> Iterator[tuple[str, str, Any]]:
    """(method, full path, route object) for every HTTP route; the route object carries FastAPI's ``dependant``
    (path, query and body parameters), which the request fuzzer reads to know what to send."""
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:
            for ctx in contexts():
                original = ctx.original_route
                for method in sorted(getattr(original, "methods", None) or ()):
                    yield method, ctx.path, original
        else:
            for method in sorted(getattr(route, "methods", None) or ()):
                yield method, getattr(route, "path", ""), route


def iter_routes(app: FastAPI) -> Iterator[tuple[str, str]]:
    for method, path, _ in iter_endpoints(app):
        yield method, path
