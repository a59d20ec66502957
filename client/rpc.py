"""A thin client for CometBFT's JSON-RPC (HTTP POST). Bytes params travel base64-encoded."""
from __future__ import annotations

import base64
import itertools
import time

import httpx

from client.errors import RpcError


class CometRPC:
    def __init__(self, url: str = "http://127.0.0.1:26657", timeout: float = 30.0):
        self.url = url.rstrip("/")
        self._http = httpx.Client(timeout=timeout)
        self._ids = itertools.count(1)

    def close(self) -> None:
        self._http.close()

    def call(self, method: str, **params):
        payload = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        try:
            reply = self._http.post(self.url, json=payload)
        except httpx.HTTPError as e:
            raise RpcError(f"cannot reach node RPC at {self.url}: {e}. Is the node running?") from None
        try:
            body = reply.json()
        except ValueError:
            raise RpcError(f"{method}: node answered HTTP {reply.status_code} without JSON") from None
        if "error" in body:
            err = body["error"]
            raise RpcError(f"{method}: {err.get('message', '')} {err.get('data', '')}".strip())
        return body["result"]

    # --- the calls the SDK uses ---------------------------------------------------------------
    def status(self) -> dict:
        return self.call("status")

    def latest_height(self) -> int:
        return int(self.status()["sync_info"]["latest_block_height"])

    def broadcast_tx_sync(self, tx: bytes) -> dict:
        return self.call("broadcast_tx_sync", tx=base64.b64encode(tx).decode())

    def tx(self, tx_hash: bytes) -> dict | None:
        try:
            return self.call("tx", hash=base64.b64encode(tx_hash).decode(), prove=False)
        except RpcError as e:
            if "not found" in str(e):
                return None
            raise

    def abci_query(self, path: str, data: bytes, height: int = 0, prove: bool = False) -> dict:
        return self.call("abci_query", path=path, data=data.hex(), height=str(height), prove=prove)["response"]

    def block(self, height: int | None = None) -> dict:
        """{"block_id": ..., "block": {"header": ..., "data": {"txs": [base64, ...]}, ...}}; latest if None."""
        return self.call("block", **({"height": str(height)} if height else {}))

    def tx_search(self, query: str, page: int = 1, per_page: int = 30, order_by: str = "asc") -> dict:
        """CometBFT's indexed txs matching an event query, e.g. "transfer.recipient='grad1...'":
        {"txs": [{"hash", "height", "tx_result", "tx"}, ...], "total_count"}. Not verified: an index answer."""
        return self.call("tx_search", query=query, page=str(page), per_page=str(per_page), order_by=order_by)

    def commit(self, height: int) -> dict:
        return self.call("commit", height=str(height))

    def wait_for_height(self, height: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self.latest_height() < height:
            if time.monotonic() > deadline:
                raise RpcError(f"node did not reach height {height} within {timeout}s")
            time.sleep(0.1)
