"""The node's admin routes (``/admin/...``): operations on the node, not on keys.

Kept apart from the key-value routes of ``_api.py`` because they answer to an operator
rather than to an application: the peer fault layer (``/admin/faults``, see ``_faults.py``)
that ``dynamokv cluster partition`` and the chaos nemesis use, and the explicit membership
commands of Dynamo §4.8.1, ``POST /admin/join?node=NAME`` and ``POST /admin/leave?node=NAME``,
that ``dynamokv cluster join`` and ``leave`` send (any member serves them).
"""

from __future__ import annotations

import json
from typing import Any

from dynamokv.impl.core import MembershipArgumentError

from ._faults import FaultSpecError, PeerFaults, parse_peer_faults
from ._http import HttpRequest, HttpResponse, error_response, json_response
from ._routes import ADMIN_ROUTES
from ._view import NodeView

__all__ = ["ADMIN_ROUTES", "AdminApi"]


class AdminApi:
    """The admin routes of one :class:`~dynamokv.impl.runtime.NodeProcess`."""

    def __init__(self, process: NodeView) -> None:
        self.process = process

    async def handle(self, request: HttpRequest) -> HttpResponse:
        """Route one ``/admin/...`` request; bad input is a 4xx, never an exception."""
        if request.path == "/admin/faults":
            return self._faults(request)
        if request.path in ("/admin/join", "/admin/leave"):
            return await self._membership(request, request.path.rpartition("/")[2])
        return error_response(404, f"no such resource: {request.path[:200]}")

    async def _membership(self, request: HttpRequest, kind: str) -> HttpResponse:
        if request.method != "POST":
            response = error_response(405, "method not allowed; allowed: POST")
            return HttpResponse(405, response.body, (*response.headers, ("allow", "POST")))
        node = request.query.get("node", "")
        if not 1 <= len(node) <= 64:
            return error_response(400, "node must be a node's name, as ?node=NAME")
        try:
            version = await self.process.change_membership(kind, node)
        except MembershipArgumentError as error:
            return error_response(409, str(error))
        return json_response({"kind": kind, "node": node, "ring_version": version})

    def _faults_document(self) -> dict[str, Any]:
        layer = self.process.faults
        return {"enabled": layer.enabled, **layer.faults.to_json()}

    def _faults(self, request: HttpRequest) -> HttpResponse:
        method = request.method
        if method in ("GET", "HEAD"):
            return json_response(self._faults_document())
        if method not in ("PUT", "DELETE"):
            response = error_response(405, "method not allowed; allowed: GET, PUT, DELETE")
            return HttpResponse(
                405, response.body, (*response.headers, ("allow", "GET, PUT, DELETE"))
            )
        if not self.process.faults.enabled:
            return error_response(403, "fault injection is off in this node's configuration")
        if method == "DELETE":
            faults = PeerFaults()
        else:
            try:
                faults = parse_peer_faults(json.loads(request.body or b"null"))
            except (ValueError, FaultSpecError) as error:
                message = str(error) if isinstance(error, FaultSpecError) else "not JSON"
                return error_response(400, f"bad fault specification: {message}")
        try:
            self.process.set_peer_faults(faults)
        except PermissionError as error:
            return error_response(403, str(error))
        return json_response(self._faults_document())
