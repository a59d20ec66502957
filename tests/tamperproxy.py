"""A tampering RPC proxy on loopback: forwards CometBFT JSON-RPC to a real node and lets a test rewrite
any answer, the way a hostile RPC provider would. The SDK talks to the proxy's URL and nothing else."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

import httpx

# tamper(method, params, result) -> result: return the (possibly rewritten) result
Tamper = Callable[[str, dict, dict], dict]


class TamperProxy:
    def __init__(self, upstream: str):
        self.upstream = upstream.rstrip("/")
        self.tamper: Tamper | None = None
        self.seen: list[tuple[str, dict]] = []   # every request the SDK sent (method, params)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                proxy.seen.append((body.get("method"), body.get("params") or {}))
                reply = httpx.post(proxy.upstream, json=body, timeout=30).json()
                if proxy.tamper is not None and "result" in reply:
                    reply["result"] = proxy.tamper(body.get("method"), body.get("params") or {}, reply["result"])
                raw = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def methods(self) -> list[str]:
        return [m for m, _ in self.seen]
