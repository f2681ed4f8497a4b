"""A stand-in node for the manager's own tests: it speaks the node contract's process side.

``python fake_node.py --config PATH`` reads the node's TOML, serves ``/health``,
``/cluster/ring``, ``/cluster/members`` (every member connected and healthy), ``/metrics``,
``/admin/faults``, accepts ``/admin/leave`` and ``/admin/join``, and a put/get of any key (so the manager's readiness check passes) on its
HTTP port with the standard library, prints ``READY http=… peer=…`` and exits 0 on SIGTERM. It starts in a few milliseconds, so the
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
    members_document = json.dumps(
        {
            "node": node["name"],
            "members": [
                {"name": name, "connected": True, "healthy": True, "self": name == node["name"]}
                for name in members
            ],
        }
    ).encode()
    faults: dict[str, bytes] = {"current": b'{"enabled": true}'}
    peer = socket.socket()
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    peer.bind((node["host"], node["peer_port"]))
    peer.listen()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: bytes = b"") -> None:
            self.send_response(status)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            bodies = {
                "/health": b'{"ok": true}',
                "/cluster/ring": ring,
                "/cluster/members": members_document,
                "/metrics": b"dynamokv_hints_pending 0\ndynamokv_keys 3\n",
                "/admin/faults": faults["current"],
            }
            body = bodies.get(self.path)
            if body is None and self.path.startswith("/kv/"):
                self._answer(404, b"{}")
                return
            self._answer(200 if body is not None else 404, body or b"")

        def do_PUT(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            if self.path == "/admin/faults":
                faults["current"] = body
                self._answer(200, body)
            else:
                self._answer(204 if self.path.startswith("/kv/") else 404)

        def do_POST(self) -> None:
            # Membership commands are accepted and change nothing here.
            accepted = self.path.startswith(("/admin/leave?", "/admin/join?"))
            self._answer(200 if accepted else 404, b'{"ok": true}' if accepted else b"")

        def do_DELETE(self) -> None:
            if self.path == "/admin/faults":
                faults["current"] = b'{"enabled": true}'
                self._answer(200, faults["current"])
            else:
                self._answer(404)

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
