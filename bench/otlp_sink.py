"""A local OTLP/HTTP sink for ``bench/run steady-state --otel``: answers every export like a collector.

It accepts ``POST /v1/traces`` and ``/v1/metrics`` with HTTP 200 and an empty
(valid) protobuf answer, and only counts requests and bytes, so a traced run
pays the export (serialisation, HTTP) without a collector's cost on the
measured machine beyond reading the body.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Sink:
    def __init__(self, url: str) -> None:
        self.url = url
        self.requests = 0
        self.bytes = 0
        self.lock = threading.Lock()


@contextmanager
def otlp_sink() -> Iterator[Sink]:
    holder: list[Sink] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            size = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(size)
            with holder[0].lock:
                holder[0].requests += 1
                holder[0].bytes += size
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder.append(Sink(f"http://127.0.0.1:{server.server_address[1]}"))
    thread = threading.Thread(target=server.serve_forever, name="otlp-sink", daemon=True)
    thread.start()
    try:
        yield holder[0]
    finally:
        server.shutdown()
        server.server_close()
