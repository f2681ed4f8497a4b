"""The trio runtime: the node's transports, and the driver of the core.

What is here so far is the part that does not depend on the core:

* :class:`HttpServer`: HTTP/1.1 on trio streams, parsed by httptools (llhttp), with
  keep-alive, pipelining, limits, optional TLS and graceful shutdown (``_http.py``).
* Frames: the versioned, length-prefixed msgpack frames nodes exchange (``_frames.py``).
* :class:`PeerPool`: one outbound connection per peer with bounded queues and jittered
  reconnects, and an inbound listener that decodes frames (``_peers.py``).
* TLS: the cluster CA and node certificates that ``dynamokv certs init`` makes, and the
  mutual-TLS contexts built from them (``_tls.py``; the model is in ``docs/security.md``).

And the node process itself, which drives the sans-IO core:

* :class:`NodeProcess`: steps events into :class:`~dynamokv.impl.core.Node` and carries out
  its effects with real IO (``_node_process.py``: start reading there, it walks one request
  from the HTTP handler to the WAL and back).
* :class:`NodeApi`: the HTTP routes (``_api.py``), described by :func:`openapi_document`.
* The wire codec for every frozen message dataclass of the core (``_codec.py``).
* :class:`StoreWriter`: the writer loop that makes the node's persists durable in group
  commits, around :class:`~dynamokv.impl.persist.StoreAdapter`, the storage the simulator
  drives too (``_store_writer.py``).
* Configuration from TOML (``_config.py``) and Prometheus metrics (``_metrics.py``).

Modules are private; this package re-exports their public names (``__all__``).
"""

from __future__ import annotations

from ._api import NodeApi, decode_context, encode_context
from ._codec import MESSAGE_TYPES, decode_message, encode_message
from ._config import ConfigError, MemberAddress, NodeProcessConfig, TlsConfig, load_config
from ._frames import (
    FRAME_BYTES_MAX,
    FRAME_HEADER_BYTES,
    FRAME_MAGIC,
    FRAME_VERSION,
    FrameDecoder,
    FrameError,
    decode_frame,
    encode_frame,
)
from ._http import (
    BODY_BYTES_MAX,
    CONNECTIONS_MAX,
    HEADER_BYTES_MAX,
    HEADER_COUNT_MAX,
    IDLE_TIMEOUT_SECONDS,
    REQUEST_TIMEOUT_SECONDS,
    REQUESTS_PER_CONNECTION_MAX,
    SHUTDOWN_GRACE_SECONDS,
    HttpHandler,
    HttpLimits,
    HttpRequest,
    HttpResponse,
    HttpServer,
    HttpStats,
    error_response,
    json_response,
)
from ._metrics import Counter, Histogram, MetricsRegistry
from ._node_process import (
    REPLY_TIMEOUT_SECONDS,
    JsonLogFormatter,
    NodeProcess,
    configure_logging,
)
from ._openapi import openapi_document
from ._peers import (
    INBOUND_CONNECTIONS_MAX,
    PEER_QUEUE_FRAMES_MAX,
    InboundPeer,
    MessageHandler,
    PeerAddress,
    PeerPool,
    PeerPoolOptions,
    PeerPoolStats,
    reconnect_delay_seconds,
)
from ._routes import CONTEXT_HEADER, ROUTES, VALUE_BYTES_MAX
from ._store_writer import StoreWriter
from ._tls import (
    CertificateError,
    NodeCertificatePaths,
    certificate_is_node,
    certificate_node_name,
    generate_cluster_certificates,
    http_client_ssl_context,
    http_server_ssl_context,
    issue_node_certificate,
    node_certificate_paths,
    peer_client_ssl_context,
    peer_server_ssl_context,
)
from ._view import NodeView

__all__ = [
    "BODY_BYTES_MAX",
    "CONNECTIONS_MAX",
    "CONTEXT_HEADER",
    "FRAME_BYTES_MAX",
    "FRAME_HEADER_BYTES",
    "FRAME_MAGIC",
    "FRAME_VERSION",
    "HEADER_BYTES_MAX",
    "HEADER_COUNT_MAX",
    "IDLE_TIMEOUT_SECONDS",
    "INBOUND_CONNECTIONS_MAX",
    "MESSAGE_TYPES",
    "PEER_QUEUE_FRAMES_MAX",
    "REPLY_TIMEOUT_SECONDS",
    "REQUESTS_PER_CONNECTION_MAX",
    "REQUEST_TIMEOUT_SECONDS",
    "ROUTES",
    "SHUTDOWN_GRACE_SECONDS",
    "VALUE_BYTES_MAX",
    "CertificateError",
    "ConfigError",
    "Counter",
    "FrameDecoder",
    "FrameError",
    "Histogram",
    "HttpHandler",
    "HttpLimits",
    "HttpRequest",
    "HttpResponse",
    "HttpServer",
    "HttpStats",
    "InboundPeer",
    "JsonLogFormatter",
    "MemberAddress",
    "MessageHandler",
    "MetricsRegistry",
    "NodeApi",
    "NodeCertificatePaths",
    "NodeProcess",
    "NodeProcessConfig",
    "NodeView",
    "PeerAddress",
    "PeerPool",
    "PeerPoolOptions",
    "PeerPoolStats",
    "StoreWriter",
    "TlsConfig",
    "certificate_is_node",
    "certificate_node_name",
    "configure_logging",
    "decode_context",
    "decode_frame",
    "decode_message",
    "encode_context",
    "encode_frame",
    "encode_message",
    "error_response",
    "generate_cluster_certificates",
    "http_client_ssl_context",
    "http_server_ssl_context",
    "issue_node_certificate",
    "json_response",
    "load_config",
    "node_certificate_paths",
    "openapi_document",
    "peer_client_ssl_context",
    "peer_server_ssl_context",
    "reconnect_delay_seconds",
]
