"""Sealed updates on a real 4-validator CometBFT v0.38 testnet: the trainer SDK seals to the round's set,
each node releases its key shares in vote extensions once the window's last block is committed, the
proposer injects them, and every node opens the update in block execution with the same app hash."""
import time
import tomllib

import pytest

import roundsutil  # noqa: F401  (puts tests/registry and tests/sealing on the path)
from abci_app.testnet import init_testnet, start_testnet, stop_testnet
from client import Client
from client.owner import Owner
from client.trainer import Trainer
from client.wallet import Wallet
from nodeutil import ROOT, free_port_base, height, rpc, wait_for_height
from registryutil import digits, tiny_model

pytestmark = pytest.mark.integration
torch = pytest.importorskip("torch")

OPERATORS = [Wallet.from_seed(bytes([0x50 + i]) * 32) for i in range(4)]
FAUCET = Wallet.from_seed(b"\x5f" * 32)


def test_update_opens_on_every_node(tmp_path):
    preset = tomllib.loads((ROOT / "config/local.toml").read_text())
    manifest = init_testnet(tmp_path, 4, "rounds-1", preset, [w.address_bytes for w in OPERATORS],
                            FAUCET.address_bytes, port_base=free_port_base(60), timeout_commit="300ms")
    urls = [f"http://127.0.0.1:{n['rpc']}" for n in manifest["nodes"]]
    start_testnet(tmp_path)
    try:
        for url in urls:
            wait_for_height(url, 2, timeout=90)
        net, _ = tiny_model(seed=3)
        X, y = digits()
        with Client(urls[0]) as client:
            owner = Owner(client, FAUCET)
            model_id, _ = owner.register(net, X[-200:], y[-200:], shard_size=100, bounty="5000uusdc",
                                         bond="1000ugrad", deposit="10ugrad", target_score=900_000,
                                         expiry_blocks=1000, round_blocks=4, reveal_blocks=20, progress=False)
            from client.trainer import delta_from_torch
            from client.model import to_chain
            update = delta_from_torch(to_chain(net, (64,)), net)  # the zero delta: nobody can read it early
            receipt = Trainer(client, FAUCET).submit(model_id, update)
            [event] = [e for e in receipt.events if e["type"] == "submit_update"]
            round_ = int(next(a["value"] for a in event["attributes"] if a["key"] == "round"))
            info = client.query_json("/rounds/round", (model_id.to_bytes(8, "big") + round_.to_bytes(8, "big")))
            assert info["submission_list"][0]["status"] == "sealed" and len(info["sealing_set"]) == 4
            deadline = time.monotonic() + 60
            while info["submission_list"][0]["status"] == "sealed":
                assert time.monotonic() < deadline, info
                time.sleep(0.3)
                info = client.query_json("/rounds/round", model_id.to_bytes(8, "big") + round_.to_bytes(8, "big"))
            sub = info["submission_list"][0]
            assert sub["status"] == "opened" and sub["opened_height"] >= info["window_end"] + 1
        top = min(height(u) for u in urls)
        for u in urls:
            wait_for_height(u, top + 1)
        for h in range(sub["opened_height"], top + 1):
            hashes = {rpc(u, "commit", height=str(h))["signed_header"]["header"]["app_hash"] for u in urls}
            assert len(hashes) == 1, f"nodes disagree at height {h}"
    finally:
        stop_testnet(tmp_path)
