"""The trio runtime: the node's transports, and (issue 6) the driver of the core.

What is here so far is the part that does not depend on the core:

* :class:`HttpServer`: HTTP/1.1 on trio streams, parsed by httptools (llhttp), with
  keep-alive, pipelining, limits, optional TLS and graceful shutdown (``_http.py``).
* Frames: the versioned, length-prefixed msgpack frames nodes exchange (``_frames.py``).
* :class:`PeerPool`: one outbound connection per peer with bounded queues and jittered
  reconnects, and an inbound listener that decodes frames (``_peers.py``).
* TLS: the cluster CA and node certificates that ``dynamokv certs init`` makes, and the
  mutual-TLS contexts built from them (``_tls.py``; the model is in ``docs/security.md``).

Modules are private; this package re-exports their public names (``__all__``).
"""

from __future__ import annotations

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
from ._tls import (
    CertificateError,
    NodeCertificatePaths,
    certificate_node_name,
    generate_cluster_certificates,
    http_server_ssl_context,
    node_certificate_paths,
    peer_client_ssl_context,
    peer_server_ssl_context,
)

__all__ = [
    "BODY_BYTES_MAX",
    "CONNECTIONS_MAX",
    "FRAME_BYTES_MAX",
    "FRAME_HEADER_BYTES",
    "FRAME_MAGIC",
    "FRAME_VERSION",
    "HEADER_BYTES_MAX",
    "HEADER_COUNT_MAX",
    "IDLE_TIMEOUT_SECONDS",
    "INBOUND_CONNECTIONS_MAX",
    "PEER_QUEUE_FRAMES_MAX",
    "REQUESTS_PER_CONNECTION_MAX",
    "REQUEST_TIMEOUT_SECONDS",
    "SHUTDOWN_GRACE_SECONDS",
    "CertificateError",
    "FrameDecoder",
    "FrameError",
    "HttpHandler",
    "HttpLimits",
    "HttpRequest",
    "HttpResponse",
    "HttpServer",
    "HttpStats",
    "InboundPeer",
    "MessageHandler",
    "NodeCertificatePaths",
    "PeerAddress",
    "PeerPool",
    "PeerPoolOptions",
    "PeerPoolStats",
    "certificate_node_name",
    "decode_frame",
    "encode_frame",
    "error_response",
    "generate_cluster_certificates",
    "http_server_ssl_context",
    "json_response",
    "node_certificate_paths",
    "peer_client_ssl_context",
    "peer_server_ssl_context",
    "reconnect_delay_seconds",
]
