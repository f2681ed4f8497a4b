"""What the node's HTTP API serves and accepts: routes, the context header, size limits.

One layer below the handlers (:mod:`~dynamokv.impl.runtime._api`,
:mod:`~dynamokv.impl.runtime._admin`) and the OpenAPI document
(:mod:`~dynamokv.impl.runtime._openapi`), so that the document describes exactly what the
handlers serve without either importing the other.
"""

from __future__ import annotations

__all__ = [
    "ADMIN_ROUTES",
    "CONTEXT_ENTRIES_MAX",
    "CONTEXT_HEADER",
    "ROUTES",
    "VALUE_BYTES_MAX",
]

CONTEXT_HEADER = "X-Dynamo-Context"
"""The header that carries the opaque context (response of a get, request of a put)."""

VALUE_BYTES_MAX = 1 << 20
"""Largest value a put accepts (413 beyond). A key's stored version set must fit the
store's 4 MiB value limit with a few siblings, and ship in one peer frame."""

CONTEXT_ENTRIES_MAX = 1024
"""Most (node, counter) pairs a context may hold (400 beyond)."""

ADMIN_ROUTES: tuple[tuple[str, str], ...] = (
    ("GET", "/admin/faults"),
    ("PUT", "/admin/faults"),
    ("DELETE", "/admin/faults"),
    ("POST", "/admin/join"),
    ("POST", "/admin/leave"),
)
"""Every (method, path) the admin API serves."""

ROUTES: tuple[tuple[str, str], ...] = (
    ("GET", "/kv/{key}"),
    ("PUT", "/kv/{key}"),
    ("DELETE", "/kv/{key}"),
    ("GET", "/health"),
    ("GET", "/cluster/members"),
    ("GET", "/cluster/ring"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
    ("GET", "/ui"),
    *ADMIN_ROUTES,
)
"""Every (method, path template) served; the OpenAPI document must describe each."""
