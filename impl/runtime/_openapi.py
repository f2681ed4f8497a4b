"""The OpenAPI 3.1 document of the node's HTTP API, served at ``/openapi.json``.

Built in Python rather than kept as a JSON file so that it shares its constants (header
name, limits) with the code that serves the API, and a test checks that every route in
:data:`~dynamokv.impl.runtime.ROUTES` is described here. ``docs/http-api.md`` is the
narrative companion; schemathesis fuzzes the API from this document.
"""

from __future__ import annotations

from typing import Any

from dynamokv.impl.storage import KEY_BYTES_MAX

from ._faults import DELAY_MS_MAX
from ._routes import CONTEXT_HEADER, VALUE_BYTES_MAX

__all__ = ["openapi_document"]

_ERROR = {"$ref": "#/components/schemas/Error"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ERROR, description)


def openapi_document(*, n: int = 3) -> dict[str, Any]:
    """The whole document, as a JSON-ready dict.

    Args:
        n: the cluster's replication factor N, the largest ``r`` and ``w`` accepted.
    """
    context_header = {
        "description": "Opaque context: base64url (no padding) of the merged vector clock.",
        "schema": {"type": "string"},
    }
    key_parameter = {
        "name": "key",
        "in": "path",
        "required": True,
        "description": f"The key: percent-encoded bytes, 1 to {KEY_BYTES_MAX} bytes.",
        # A character is at most 4 bytes of UTF-8, so this many always fit.
        "schema": {"type": "string", "minLength": 1, "maxLength": KEY_BYTES_MAX // 4},
    }
    trace_parameter = {
        "name": "trace",
        "in": "query",
        "required": False,
        "description": "1: answer with JSON that includes the request's journey (`trace`).",
        "schema": {"type": "string", "enum": ["0", "1", "true", "false"]},
    }

    def quorum(name: str, what: str) -> dict[str, Any]:
        return {
            "name": name,
            "in": "query",
            "required": False,
            "description": f"{what} quorum for this request, 1..N (default: the cluster's).",
            "schema": {"type": "integer", "minimum": 1, "maximum": n},
        }

    node_name = {
        "type": "string",
        "minLength": 1,
        "maxLength": 64,
        "description": "A node's name (printable characters).",
    }

    def node_query(description: str) -> dict[str, Any]:
        return {
            "name": "node",
            "in": "query",
            "required": True,
            "description": description,
            "schema": node_name,
        }

    membership_responses = {
        "200": _json(
            {
                "type": "object",
                "required": ["kind", "node", "ring_version"],
                "properties": {
                    "kind": {"type": "string", "enum": ["join", "leave"]},
                    "node": {"type": "string"},
                    "ring_version": {"type": "integer"},
                },
            },
            "The new ring is adopted here and gossiped.",
        ),
        "400": _error("No node name."),
        "405": _error("Method not allowed."),
        "409": _error("The ring cannot change so (unknown node, already in, the last one)."),
    }
    context_in = {
        "name": CONTEXT_HEADER,
        "in": "header",
        "required": False,
        "description": (
            "The context of the get this write supersedes (as issued by the API: opaque); "
            "omit for a blind write. Anything else is refused with 400."
        ),
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]*$"},
    }
    put_responses = {
        "204": {
            "description": "Written on at least W replicas (durably).",
            "headers": {CONTEXT_HEADER: context_header},
        },
        "200": _json(
            {"$ref": "#/components/schemas/PutTrace"}, "Written; with ?trace=1, the journey."
        ),
        "400": _error("Bad key, context header, or w."),
        "413": _error(f"Value over {VALUE_BYTES_MAX} bytes."),
        "414": _error(f"Key over {KEY_BYTES_MAX} bytes."),
        "503": _error("Fewer than W replicas acknowledged in time (the write may exist on some)."),
    }
    simple_get = {"400": _error("Bad request."), "405": _error("Method not allowed.")}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "dynamokv node API",
            "version": "1",
            "description": (
                "Every node accepts every key; writes reaching a non-owner are forwarded to "
                "a coordinator on the key's preference list (Dynamo §4.5). Siblings are "
                "visible; the context travels in the X-Dynamo-Context header."
            ),
        },
        "paths": {
            "/kv/{key}": {
                "parameters": [key_parameter, trace_parameter],
                "get": {
                    "summary": "Every live sibling of a key, and the context",
                    "operationId": "get",
                    "parameters": [quorum("r", "Read")],
                    "responses": {
                        "200": {
                            "description": (
                                "Exactly one live sibling: its raw bytes. With Accept: "
                                "application/json (or ?trace=1): every sibling, tombstones "
                                "included, as JSON."
                            ),
                            "headers": {CONTEXT_HEADER: context_header},
                            "content": {
                                "application/octet-stream": {
                                    "schema": {"type": "string", "format": "binary"}
                                },
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/GetReply"}
                                },
                            },
                        },
                        "300": {
                            "description": "Several live siblings (concurrent writes).",
                            "headers": {CONTEXT_HEADER: context_header},
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Siblings"}
                                }
                            },
                        },
                        "404": {
                            "description": "No live sibling (absent, or deleted).",
                            "headers": {CONTEXT_HEADER: context_header},
                            "content": {"application/json": {"schema": _ERROR}},
                        },
                        "400": _error("Bad key, r or trace."),
                        "414": _error(f"Key over {KEY_BYTES_MAX} bytes."),
                        "503": _error("Fewer than R replicas answered in time."),
                    },
                },
                "put": {
                    "summary": "Write a value (raw body)",
                    "operationId": "put",
                    "parameters": [quorum("w", "Write"), context_in],
                    "requestBody": {
                        "required": False,
                        "content": {
                            "application/octet-stream": {
                                "schema": {"type": "string", "format": "binary"}
                            }
                        },
                    },
                    "responses": put_responses,
                },
                "delete": {
                    "summary": "Delete: write a tombstone",
                    "operationId": "delete",
                    "parameters": [quorum("w", "Write"), context_in],
                    "responses": put_responses,
                },
            },
            "/health": {
                "get": {
                    "summary": "Liveness and name",
                    "operationId": "health",
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/Health"}, "The node is up."),
                        **simple_get,
                    },
                }
            },
            "/cluster/members": {
                "get": {
                    "summary": "The cluster's members as this node sees them",
                    "operationId": "members",
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/Members"}, "Members."),
                        **simple_get,
                    },
                }
            },
            "/cluster/ring": {
                "get": {
                    "summary": "Ring summary; with ?key=, that key's placement",
                    "operationId": "ring",
                    "parameters": [
                        {
                            "name": "key",
                            "in": "query",
                            "required": False,
                            "description": "A key (UTF-8) whose partition and preference list to show.",
                            "schema": {
                                "type": "string",
                                "minLength": 1,
                                "maxLength": KEY_BYTES_MAX // 4,
                            },
                        },
                        {
                            "name": "assignment",
                            "in": "query",
                            "required": False,
                            "description": "1: also list every partition's owner, in "
                            "partition order (what a ring-aware client routes by).",
                            "schema": {"type": "string", "enum": ["0", "1"]},
                        },
                    ],
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/Ring"}, "The ring."),
                        **simple_get,
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "operationId": "metrics",
                    "responses": {
                        "200": {
                            "description": "Prometheus text format 0.0.4.",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        },
                        **simple_get,
                    },
                }
            },
            "/admin/faults": {
                "get": {
                    "summary": "This node's peer faults (dropped or delayed peers)",
                    "operationId": "getFaults",
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/Faults"}, "The faults."),
                        **simple_get,
                    },
                },
                "put": {
                    "summary": "Drop or delay this node's traffic to and from named peers",
                    "operationId": "setFaults",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/FaultSpec"}
                            }
                        },
                    },
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/Faults"}, "Applied."),
                        "400": _error("Not a fault specification."),
                        "403": _error("Fault injection is off in the node's configuration."),
                    },
                },
                "delete": {
                    "summary": "Heal: no dropped or delayed peer",
                    "operationId": "healFaults",
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/Faults"}, "Healed."),
                        "403": _error("Fault injection is off in the node's configuration."),
                    },
                },
            },
            "/admin/join": {
                "post": {
                    "summary": "Add a joining node to the ring (Dynamo §4.8.1)",
                    "operationId": "join",
                    "parameters": [node_query("The joining node, known here by gossip.")],
                    "responses": membership_responses,
                }
            },
            "/admin/leave": {
                "post": {
                    "summary": "Remove a node from the ring; its partitions are handed off",
                    "operationId": "leave",
                    "parameters": [node_query("The node to remove.")],
                    "responses": membership_responses,
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "operationId": "openapi",
                    "responses": {
                        "200": _json({"type": "object"}, "OpenAPI 3.1."),
                        **simple_get,
                    },
                }
            },
            "/ui": {
                "get": {
                    "summary": "The node's live view: ring, members, hints, Merkle counters, a request's journey",
                    "operationId": "ui",
                    "parameters": [
                        {
                            "name": "state",
                            "in": "query",
                            "required": False,
                            "description": "1: the page's own data as JSON (hints pending per owner, Merkle counters).",
                            "schema": {"type": "string", "enum": ["0", "1", "true", "false"]},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "A self-contained HTML page (no external assets), or with ?state=1 its JSON data.",
                            "content": {
                                "text/html": {"schema": {"type": "string"}},
                                "application/json": {"schema": {"type": "object"}},
                            },
                        },
                        **simple_get,
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "string"}},
                },
                "Sibling": {
                    "type": "object",
                    "required": ["value", "value_base64", "tombstone", "clock", "dot"],
                    "properties": {
                        "value": {"type": ["string", "null"], "description": "UTF-8 text, or null"},
                        "value_base64": {"type": ["string", "null"]},
                        "tombstone": {"type": "boolean"},
                        "clock": {
                            "type": "object",
                            "additionalProperties": {"type": "integer"},
                        },
                        "dot": {"type": "array", "items": {}, "minItems": 2, "maxItems": 2},
                    },
                },
                "Siblings": {
                    "type": "object",
                    "required": ["siblings", "context"],
                    "properties": {
                        "siblings": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Sibling"},
                        },
                        "context": {"type": "string"},
                    },
                },
                "GetReply": {
                    "type": "object",
                    "required": ["key", "siblings", "context"],
                    "properties": {
                        "key": {"type": "string"},
                        "siblings": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Sibling"},
                        },
                        "context": {"type": "string"},
                        "trace": {"$ref": "#/components/schemas/Trace"},
                    },
                },
                "PutTrace": {
                    "type": "object",
                    "required": ["ok", "acks", "context", "trace"],
                    "properties": {
                        "ok": {"type": "boolean"},
                        "acks": {"type": "integer"},
                        "context": {"type": "string"},
                        "trace": {"$ref": "#/components/schemas/Trace"},
                    },
                },
                "Trace": {
                    "type": "array",
                    "description": (
                        "Steps: md5, partition, preference_list, coordinator, wal (puts), "
                        "replicate or read, ack."
                    ),
                    "items": {
                        "type": "object",
                        "required": ["step"],
                        "properties": {"step": {"type": "string"}},
                    },
                },
                "Health": {
                    "type": "object",
                    "required": ["name", "status"],
                    "properties": {
                        "name": {"type": "string"},
                        "status": {"type": "string"},
                        "uptime_seconds": {"type": "number"},
                        "members": {"type": "integer"},
                    },
                },
                "Members": {
                    "type": "object",
                    "required": ["node", "members"],
                    "properties": {
                        "node": {"type": "string"},
                        "members": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["name", "host", "http_port", "peer_port", "self"],
                                "properties": {
                                    "name": {"type": "string"},
                                    "host": {"type": "string"},
                                    "http_port": {"type": "integer"},
                                    "peer_port": {"type": "integer"},
                                    "http": {"type": "string"},
                                    "self": {"type": "boolean"},
                                    "healthy": {"type": "boolean"},
                                    "connected": {"type": ["boolean", "null"]},
                                },
                            },
                        },
                    },
                },
                "FaultSpec": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "drop_to": {"type": "array", "items": node_name, "maxItems": 1024},
                        "drop_from": {"type": "array", "items": node_name, "maxItems": 1024},
                        "delay_ms": {
                            "type": "object",
                            "maxProperties": 1024,
                            "propertyNames": node_name,
                            "additionalProperties": {
                                "type": "integer",
                                "minimum": 0,
                                "maximum": DELAY_MS_MAX,
                            },
                        },
                    },
                },
                "Faults": {
                    "type": "object",
                    "required": ["enabled", "drop_to", "drop_from", "delay_ms"],
                    "properties": {
                        "enabled": {"type": "boolean"},
                        "drop_to": {"type": "array", "items": {"type": "string"}},
                        "drop_from": {"type": "array", "items": {"type": "string"}},
                        "delay_ms": {
                            "type": "object",
                            "additionalProperties": {"type": "integer"},
                        },
                    },
                },
                "Ring": {
                    "type": "object",
                    "required": ["partition_count", "n", "owners"],
                    "properties": {
                        "partition_count": {"type": "integer"},
                        "n": {"type": "integer"},
                        "strategy": {"type": "string"},
                        "owners": {
                            "type": "object",
                            "additionalProperties": {"type": "integer"},
                        },
                        "nodes": {"type": "array", "items": {"type": "string"}},
                        "assignment": {"type": "array", "items": {"type": "string"}},
                        "key": {"type": "object"},
                    },
                },
            }
        },
    }
