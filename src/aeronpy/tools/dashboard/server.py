"""``aeronpy dashboard``: one local page showing a running driver live, plus the sizing calculator.

Routes: ``/`` the page, ``/static/<file>`` its assets (shipped in the package, nothing from the
internet), ``/api/state`` the sampler's JSON, ``/api/sizing?message_size=..&rate=..`` the seed 004
calculator (the same :func:`aeronpy.tools.sizing.compute` as the CLI), ``/metrics`` OpenMetrics.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import sys
import threading
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any, TextIO

from aeronpy.concurrent.stop_flag import stop_on_termination_signals
from aeronpy.tools import sizing
from aeronpy.tools.cnc_access import ToolError
from aeronpy.tools.dashboard.sampler import Sampler

__all__ = ["Dashboard", "sizing_json", "add_arguments", "run"]

STATIC_FILES = ("index.html", "app.js", "style.css")


def sizing_json(query: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body) for a calculator request."""
    try:
        report = sizing.compute(sizing.inputs_from_strings(query))
    except ValueError as e:
        return 400, {"error": str(e)}
    return 200, report.to_dict()


def _asset(name: str) -> bytes:
    return resources.files("aeronpy.tools.dashboard").joinpath("static", name).read_bytes()


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet: no access log on stderr
        pass

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data: Any) -> None:
        self._send(status, json.dumps(data, allow_nan=False, default=str).encode(), "application/json")

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        if path in ("/", "/index.html"):
            self._send(200, _asset("index.html"), "text/html; charset=utf-8")
        elif path.startswith("/static/") and path[len("/static/"):] in STATIC_FILES:
            name = path[len("/static/"):]
            kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
            self._send(200, _asset(name), f"{kind}; charset=utf-8")
        elif path == "/api/state":
            self._json(200, _finite(self.server.sampler.state()))
        elif path == "/api/sizing":
            query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
            self._json(*sizing_json(query))
        elif path == "/metrics":
            from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST, generate_latest

            body: bytes = generate_latest(self.server.registry)  # type: ignore[no-untyped-call]
            self._send(200, body, CONTENT_TYPE_LATEST)
        else:
            self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain")


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], sampler: Sampler) -> None:
        super().__init__(address, _Handler)
        self.sampler = sampler
        from aeronpy.tools.metrics import make_registry

        self.registry = make_registry(sampler.reader)


class Dashboard:
    """The dashboard server and its sampler; :meth:`start` serves in a thread."""

    def __init__(self, aeron_dir: str, host: str = "127.0.0.1", port: int = 0, interval: float = 1.0) -> None:
        self.sampler = Sampler(aeron_dir, interval)
        try:
            self.server = _Server((host, port), self.sampler)
        except OSError as e:
            raise ToolError(f"cannot serve the dashboard on {host}:{port}: {e.strerror or e}") from None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://host:port/``."""
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/"

    def start(self) -> None:
        """Start sampling and serving in daemon threads."""
        self.sampler.start()
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="dashboard-http", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop serving and sampling."""
        self.server.shutdown()
        self.server.server_close()
        self.sampler.stop()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``aeronpy dashboard``."""
    parser.add_argument("--dir", help="Aeron directory (default: AERON_DIR or Aeron's default)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 picks a free one)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between samples (default 1)")


def run(args: argparse.Namespace, aeron_dir: str, out: TextIO | None = None) -> int:
    """Serve until Ctrl-C."""
    out = out or sys.stdout
    if not 0 <= args.port <= 65535:
        raise ToolError(f"--port must be in 0..65535, got {args.port}")
    if args.interval <= 0:
        raise ToolError(f"--interval must be > 0, got {args.interval}")
    stop = stop_on_termination_signals()  # Ctrl-C and SIGTERM, whatever disposition it inherited
    dash = Dashboard(aeron_dir, args.host, args.port, args.interval)
    dash.start()
    out.write(f"aeronpy dashboard for {aeron_dir} at {dash.url} (Ctrl-C to stop)\n")
    out.flush()
    try:
        while not stop.wait(0.2):
            pass
    finally:
        dash.close()
    return 0
