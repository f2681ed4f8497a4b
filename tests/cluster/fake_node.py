"""A stand-in node for the manager's own tests: it speaks the node contract's process side.

``python fake_node.py --config PATH`` reads the node's TOML, serves ``/health``,
``/cluster/ring`` and ``/metrics`` on its HTTP port with the standard library, prints
``READY http=… peer=…`` and exits 0 on SIGTERM. It starts in a few milliseconds, so the
manager's behaviour (reuse, stale pids, kill, restart, down, cleanup) is tested in the fast
tier without the cost of real nodes; the real nodes are tested in ``test_cluster_real.py``.
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import sys
import threading
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    args = parser.parse_args()
    with open(args.config, "rb") as file:
        config = tomllib.load(file)
    node = config["node"]
    members = [member["name"] for member in config["cluster"]["members"]]
    ring = json.dumps({"node": node["name"], "members": members}).encode()
    peer = socket.socket()
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    peer.bind((node["host"], node["peer_port"]))
    peer.listen()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            bodies = {
                "/health": b'{"ok": true}',
                "/cluster/ring": ring,
                "/metrics": b"dynamokv_hints_pending 0\ndynamokv_keys 3\n",
            }
            body = bodies.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("content-length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((node["host"], node["http_port"]), Handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"READY http={node['host']}:{node['http_port']} peer={node['host']}:{node['peer_port']}")
    sys.stdout.flush()
    server.serve_forever()
    peer.close()


if __name__ == "__main__":
    main()
