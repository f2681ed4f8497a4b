"""Serve a trivial handler for measuring the HTTP layer with wrk.

Not a test (benchmarks print, tests never time). Run::

    .venv/bin/python -m dynamokv.impl.runtime._http_bench --port 8089 &
    wrk -t1 -c16 -d5s http://127.0.0.1:8089/

The handler returns a constant response, so what wrk measures is the server: accept,
``receive_some``, llhttp, the request value, the handler call and one ``send_all``.
"""

from __future__ import annotations

import argparse
import signal
from collections.abc import Sequence

import trio

from ._http import HttpRequest, HttpResponse, HttpServer

_RESPONSE = HttpResponse(200, b"ok\n", (("content-type", "text/plain"),))


async def _trivial_handler(request: HttpRequest) -> HttpResponse:
    return _RESPONSE


async def _serve(port: int) -> None:
    server = HttpServer(_trivial_handler)
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(server.serve_tcp, port)
        bound_port = listeners[0].socket.getsockname()[1]
        print(f"serving http://127.0.0.1:{bound_port}/ (SIGTERM or Ctrl-C to stop)", flush=True)
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for _signal in signals:
                server.shutdown()
                break
    print(f"stats: {server.stats}", flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    """Parse ``--port`` and serve until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=8089)
    args = parser.parse_args(argv)
    trio.run(_serve, args.port)


if __name__ == "__main__":
    main()
