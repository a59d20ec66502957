"""Proof that the ABCI server speaks real CometBFT v0.38: blocks are made, a tx is committed, shutdown is clean."""
from __future__ import annotations

import base64
import hashlib
import json

import pytest

from abci_app.node import init_node, read_genesis
from chain.results import BlockResult, InitResult, QueryResult, TxResult
from nodeutil import (abci_query, broadcast_tx_commit, free_node_ports, rpc, running_cometbft, running_node,
                      serve_in_thread, stop_process, wait_for_height)

pytestmark = pytest.mark.integration


class CountingApp:
    """Accepts every tx; the app hash commits to the number of txs and the hash of the last one."""

    def __init__(self):
        self.height, self.count, self.last = 0, 0, b""
        self.committed = (0, b"")
        self.pending = None

    def app_hash(self) -> bytes:
        return hashlib.sha256(self.count.to_bytes(8, "big") + self.last).digest()

    def info(self):
        return self.committed

    def init_chain(self, chain_id, initial_height, app_state_bytes, time_seconds):
        assert json.loads(app_state_bytes) == {"greeting": "hello"}
        return InitResult(app_hash=self.app_hash())

    def check_tx(self, raw, recheck):
        return TxResult(code=0 if raw else 1, codespace="" if raw else "test", gas_wanted=len(raw))

    def finalize_block(self, ctx, txs):
        for tx in txs:
            self.count, self.last = self.count + 1, tx
        self.pending = (ctx.height, self.app_hash())
        return BlockResult(tx_results=tuple(TxResult(data=tx[::-1]) for tx in txs), app_hash=self.pending[1])

    def commit(self):
        self.committed = self.pending

    def query(self, path, data, height, prove):
        return QueryResult(value=str(self.count).encode(), height=self.committed[0])


def test_cometbft_runs_blocks_and_commits_a_tx(tmp_path):
    app = CountingApp()
    chain_id = "smoke-1"
    with serve_in_thread(app, chain_id) as server:
        ports = free_node_ports()
        ports = type(ports)(p2p=ports.p2p, rpc=ports.rpc, abci=server.port, prometheus=ports.prometheus)
        init_node(tmp_path, "smoke", chain_id, {"greeting": "hello"}, ports=ports, timeout_commit="200ms")
        assert read_genesis(tmp_path)["chain_id"] == chain_id
        url = f"http://127.0.0.1:{ports.rpc}"

        with running_cometbft(tmp_path) as cometbft:
            wait_for_height(url, 3, timeout=60, proc=cometbft)

            result = broadcast_tx_commit(url, b"hello-gradchain")
            assert result["check_tx"]["code"] == 0
            assert result["tx_result"]["code"] == 0
            assert base64.b64decode(result["tx_result"]["data"]) == b"niahcdarg-olleh"
            tx_height = int(result["height"])

            # CometBFT puts the app hash of block h into header h+1.
            wait_for_height(url, tx_height + 1, proc=cometbft)
            header = rpc(url, "block", height=str(tx_height + 1))["block"]["header"]
            assert bytes.fromhex(header["app_hash"]) == hashlib.sha256((1).to_bytes(8, "big") + b"hello-gradchain").digest()
            assert abci_query(url, "count")["value"] == base64.b64encode(b"1").decode()

            assert stop_process(cometbft) == 0
    assert app.count == 1


def test_run_node_supervises_the_real_app(tmp_path):
    """`python -m abci_app.node`: the chain app on LevelDB plus CometBFT, stopped by SIGTERM, restarted."""
    init_node(tmp_path, "n0", "smoke-2", {}, ports=free_node_ports(), timeout_commit="200ms")
    with running_node(tmp_path) as node:
        wait_for_height(node.rpc, 3, proc=node.proc)
        first = int(rpc(node.rpc, "status")["sync_info"]["latest_block_height"])
    # Restart on the same home: Info reports the committed height, so CometBFT carries on from there.
    with running_node(tmp_path) as node:
        wait_for_height(node.rpc, first + 2, proc=node.proc)


class CrashingApp(CountingApp):
    def finalize_block(self, ctx, txs):
        if ctx.height == 3:
            raise ZeroDivisionError("a bug at height 3")
        return super().finalize_block(ctx, txs)


def test_an_app_bug_stops_cometbft_and_fails_the_node(tmp_path, monkeypatch, caplog):
    import asyncio

    from abci_app import node
    from abci_app.settings import load_settings
    from chain.store.kv import MemoryKV

    monkeypatch.setattr(node, "_open_application", lambda home, settings: (CrashingApp(), MemoryKV()))
    init_node(tmp_path, "n0", "smoke-3", {"greeting": "hello"}, ports=free_node_ports(), timeout_commit="200ms")
    code = asyncio.run(asyncio.wait_for(node._run(tmp_path, load_settings(tmp_path), node.find_cometbft(), None), 60))
    assert code == 1
    crash = [r for r in caplog.records if r.name == "gradchain.abci" and r.exc_info]
    assert crash and crash[0].exc_info[0] is ZeroDivisionError
    assert "finalize_block" in crash[0].getMessage()
