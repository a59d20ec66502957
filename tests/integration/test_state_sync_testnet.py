"""State sync on a 2-validator testnet: a new node joins from a snapshot (abci_app/snapshots.py) instead of
replaying the blocks, serves verified balance proofs at once and agrees on the app hashes after it; chunks
one validator serves corrupted are refused and fetched again from the other.

Empty blocks are off, so the chain stops between tx batches and the snapshot heights a joiner sees are known
(with empty blocks a new snapshot could replace the corrupted one while the joiner discovers)."""
import json
import time
import tomllib
from pathlib import Path

import pytest

from abci_app.testnet import add_full_node, init_testnet, load_manifest, start_node, start_testnet, stop_node, stop_testnet
from client import Client
from client.wallet import Wallet
from nodeutil import ROOT, free_port_base, height, log_tail, rpc, wait_for_height

pytestmark = pytest.mark.integration

OPERATORS = [Wallet.from_seed(bytes([0x50 + i]) * 32) for i in range(2)]
FAUCET = Wallet.from_seed(b"\x5f" * 32)
INTERVAL = 20
# CometBFT's syncer asks a random peer holding the snapshot for each chunk, so node 1 (the corrupting one) is
# asked for at least one chunk unless every pick lands on node 0: 2**-chunks. At 4 KiB the state made 3
# chunks and that happened in CI (1 in 8); at 1 KiB, the smallest chunk an operator may set, it makes at
# least MIN_CHUNKS (asserted below), so a run where node 1 is never asked (a spurious failure) is under 1 in 1000.
CHUNK_BYTES = 1024
MIN_CHUNKS = 10


def app_hash_at(url: str, h: int) -> str:
    return rpc(url, "commit", height=str(h))["signed_header"]["header"]["app_hash"]


def log_lines(home: Path, msg: str) -> list[dict]:
    out = []
    for line in (home / "app.log").read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("msg") == msg:
            out.append(entry)
    return out


def test_state_sync_join_serves_proofs_at_once_and_agrees(tmp_path):
    preset = tomllib.loads((ROOT / "config/local.toml").read_text())
    manifest = init_testnet(tmp_path, 2, "sync-1", preset, [w.address_bytes for w in OPERATORS],
                            FAUCET.address_bytes, port_base=free_port_base(40), timeout_commit="200ms",
                            snapshot_interval=INTERVAL, snapshot_chunk_bytes=CHUNK_BYTES, create_empty_blocks=False)
    urls = [f"http://127.0.0.1:{n['rpc']}" for n in manifest["nodes"]]
    start_testnet(tmp_path)
    joiner_home = None
    try:
        for u in urls:  # both past block 1: a tx gossiped to a node before it commits block 1 stops it
            wait_for_height(u, 1, timeout=90)
        recipients = [Wallet.from_seed(i.to_bytes(4, "big") * 8) for i in range(1, 201)]
        with Client(urls[0], timeout=30) as c:
            for r in recipients[:-1]:                       # a bigger state: 200 accounts, in a few blocks
                c.send(FAUCET, r.address, {"ugrad": 1000}, wait=False)
            c.send(FAUCET, recipients[-1].address, {"ugrad": 1000})
            n = 0
            while height(urls[0]) < 2 * INTERVAL + 3:       # past two snapshot heights, one tx per block or so
                c.send(FAUCET, recipients[n % 50].address, {"ugrad": 1})
                n += 1
            time.sleep(2)                                     # the proof block after the last tx, then idle
        top = height(urls[0])
        wait_for_height(urls[1], top, timeout=30)
        snap_dirs = sorted((Path(manifest["nodes"][1]["home"]) / "data" / "snapshots").iterdir())
        assert [d.name for d in snap_dirs][-2:] == [str(INTERVAL), str(2 * INTERVAL)] or len(snap_dirs) == 2
        # Node 1 serves every chunk of its snapshots corrupted (its own disk, flipped here).
        chunks_per_snapshot = []
        for d in snap_dirs:
            chunk_files = [f for f in d.iterdir() if f.name.isdigit()]
            for f in chunk_files:
                raw = bytearray(f.read_bytes())
                raw[len(raw) // 2] ^= 0xFF
                f.write_bytes(bytes(raw))
            chunks_per_snapshot.append(len(chunk_files))
        assert min(chunks_per_snapshot) >= MIN_CHUNKS, chunks_per_snapshot

        node = add_full_node(tmp_path, state_sync=True)
        assert node["state_sync"]["trust_height"] == 2 * INTERVAL
        joiner_home = Path(node["home"])
        url = f"http://127.0.0.1:{node['rpc']}"
        started = time.monotonic()
        start_node(joiner_home)
        try:
            wait_for_height(url, top, timeout=120)
        except Exception:
            print(log_tail(joiner_home / "cometbft.log", 80))
            raise
        joined_s = time.monotonic() - started
        status = rpc(url, "status")["sync_info"]
        assert int(status["earliest_block_height"]) > 2 * INTERVAL - 1   # no replay from block 1
        restored = log_lines(joiner_home, "snapshot restored")
        assert [e["height"] for e in restored] == [2 * INTERVAL]
        refused = log_lines(joiner_home, "snapshot chunk refused; fetching it again")
        node1_id = rpc(urls[1], "status")["node_info"]["id"]
        assert refused and all(e["sender"] == node1_id for e in refused), refused

        # Proofs at once, against light-verified headers. The chain is idle at `top`: a proof at height h
        # needs header h + 1, so ask as of top - 1 (its state is top's: top is the proof block, no txs).
        expected0 = 1000 + sum(1 for i in range(n) if i % 50 == 0)
        with Client(url) as c:
            assert c.balance(recipients[100].address, "ugrad", prove=True, height=top - 1) == 1000
            assert c.balance(recipients[0].address, "ugrad", prove=True, height=top - 1) == expected0
        with Client(urls[0]) as c:                           # the next blocks: same app hashes on all three
            for r in recipients[:5]:
                receipt = c.send(FAUCET, r.address, {"ugrad": 7})
        wait_for_height(url, receipt.height + 1, timeout=60)
        for h in range(top, receipt.height + 2):
            assert len({app_hash_at(u, h) for u in urls + [url]}) == 1, f"nodes disagree at height {h}"
        with Client(url) as c:
            assert c.balance(recipients[0].address, "ugrad", prove=True, height=receipt.height) == expected0 + 7
        print(f"state sync join: {joined_s:.1f}s to height {top}, {len(refused)} chunks refused")
    finally:
        if joiner_home is not None:
            stop_node(joiner_home)
        stop_testnet(tmp_path)
