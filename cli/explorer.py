"""`gradchain explorer`: a small block explorer served on loopback. It reads only through one node's RPC and
shows as verified only what it checked against a light-verified header (client/explorer_data.py):

    gradchain explorer --node http://127.0.0.1:27001          # http://127.0.0.1:27008/ (the node's BASE+8)

One HTML page with inline CSS and JS (no CDN, nothing fetched from the network, cli/explorer_page.py) and the
JSON it reads: /api/overview (status, validators, models) and /api/model/<id> (terms, version tree, rounds,
cohorts, submissions, outcomes, leaderboard, head accuracy per round).
"""
from __future__ import annotations

import json
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

import click

from abci_app.settings import is_loopback
from cli.common import friendly
from cli.explorer_page import PAGE

PORT_OFFSET = 7     # the RPC is BASE+1 (abci_app/settings.py Ports.from_base): the explorer takes BASE+8
DEFAULT_PORT = 8080


def default_port(node_url: str) -> int:
    """BASE+8 of the node whose RPC is BASE+1 (26657 -> 26664, testnet node i 27001+10i -> 27008+10i)."""
    port = urlparse(node_url).port
    return port + PORT_OFFSET if port and port + PORT_OFFSET < 65536 else DEFAULT_PORT


class Explorer:
    """The routes over the data side (client/explorer_data.py ExplorerData, or anything with its `overview`
    and `model`): one Client, and so one light client, for every request, one request at a time."""

    def __init__(self, client=None, data=None):
        if data is None:
            from client.explorer_data import ExplorerData
            data = ExplorerData(client)
        self.data = data
        self.lock = threading.Lock()

    def answer(self, path: str) -> tuple[int, str, bytes]:
        if path in ("/", "/index.html"):
            return 200, "text/html; charset=utf-8", PAGE.encode()
        if path == "/favicon.ico":
            return 204, "image/x-icon", b""
        if path == "/api/overview":
            return self._json(self.data.overview)
        if match := re.fullmatch(r"/api/model/(\d{1,19})", path):
            return self._json(lambda: self.data.model(int(match.group(1))))
        return 404, "application/json", json.dumps({"error": f"no page {path}"}).encode()

    def _json(self, fn) -> tuple[int, str, bytes]:
        try:
            with self.lock:
                body, status = fn(), 200
        except Exception as e:  # noqa: BLE001 - the page shows the node's failure; the server keeps serving
            body, status = {"error": f"{type(e).__name__}: {e}"}, 502
        return status, "application/json", json.dumps(body).encode()


def make_server(client, host: str = "127.0.0.1", port: int = 0, quiet: bool = False,
                explorer: Explorer | None = None) -> ThreadingHTTPServer:
    """The explorer's HTTP server for `client`'s node (or a ready `explorer`), bound; call serve_forever."""
    if not is_loopback(host):
        raise click.ClickException(f"the explorer listens on loopback only, not {host!r}")
    explorer = explorer or Explorer(client)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            status, kind, body = explorer.answer(urlparse(self.path).path)
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt, *args):
            if not quiet:
                sys.stderr.write(f"explorer: {self.address_string()} {fmt % args}\n")

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


@click.command("explorer")
@click.option("--node", "node_url", default=None, help="CometBFT RPC URL to read through (default: the global --node).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=None,
              help="Port (default: the node's port base + 8, e.g. 26664 for RPC 26657).")
@click.option("--quiet", is_flag=True, help="Do not log requests.")
@click.pass_context
@friendly
def explorer(ctx, node_url, host, port, quiet):
    """Serve a block explorer page for the chain: status, validators, models, rounds, leaderboard,
    version tree and head accuracy per round, verified against light-verified headers."""
    from client.client import Client
    url = node_url or ctx.obj["node"]
    height, digest = ctx.obj.get("trust", (None, None))
    client = Client(url, trusted_height=height, trusted_hash=digest)
    server = make_server(client, host, default_port(url) if port is None else port, quiet=quiet)
    click.echo(f"explorer for {url} on http://{host}:{server.server_address[1]}/ (Ctrl-C stops it)", err=False)
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        client.close()
