"""The halt of finding 1 on a real 2-validator testnet, driven past a release cap: more pending share bytes
than one vote extension may carry (512 KiB; each submission's share vector for one validator is 16 KiB at
512 shares). Before the caps every validator built the same too-large extension at every height and the
chain stopped in Precommit for good; now the backlog is released over several heights (release txs in
several blocks), every update opens, and blocks keep coming with one app hash on both nodes. (The count cap,
1024 share entries, binds the same way with 1025 submissions: tests/rounds/test_release_caps.py.)"""
import sys
import tomllib

import pytest

from abci_app.testnet import init_testnet, start_testnet, stop_testnet
from chain.rounds.release import MAX_RELEASE_BYTES
from client import Client
from client.trainer import Trainer
from client.wallet import Wallet
from nodeutil import ROOT, free_port_base, height, rpc, wait_for_height

sys.path.insert(0, str(ROOT / "tests" / "integration"))
from test_grief_testnet import assert_keeps_committing, register_tiny_model, set_rounds_params  # noqa: E402

pytestmark = pytest.mark.integration
torch = pytest.importorskip("torch")

OPERATORS = [Wallet.from_seed(bytes([0x90 + i]) * 32) for i in range(2)]
FAUCET = Wallet.from_seed(b"\x9f" * 32)
SHARES = 1024   # max_total_shares: with two equal validators, 512 shares each per envelope
SUBMISSIONS = 36  # x 16 KiB of shares per validator: past one extension's 512 KiB


def test_share_cap_backlog_past_one_extension_on_a_real_testnet_keeps_committing(tmp_path):
    preset = tomllib.loads((ROOT / "config/local.toml").read_text())
    preset["operators"]["bond"] = "1000000000"          # power 1000 each: per_share 2, 512 shares each
    preset["registry"]["max_shard_samples"] = 200       # keeps each submission's scoring prepayment small
    manifest = init_testnet(tmp_path, 2, "sharecap-1", preset, [w.address_bytes for w in OPERATORS],
                            FAUCET.address_bytes, port_base=free_port_base(40), timeout_commit="200ms")
    set_rounds_params(tmp_path, {"max_total_shares": SHARES, "max_submissions_per_submitter": SUBMISSIONS})
    urls = [f"http://127.0.0.1:{n['rpc']}" for n in manifest["nodes"]]
    start_testnet(tmp_path)
    try:
        for url in urls:
            wait_for_height(url, 2, timeout=90)
        with Client(urls[0]) as client:
            model_id, round_, zero = register_tiny_model(client, FAUCET, seed=6, round_blocks=40)
            trainer = Trainer(client, FAUCET)
            for i in range(SUBMISSIONS):
                trainer.submit(model_id, zero + i.to_bytes(2, "big"), round_=round_, parent_version=0, wait=False)
            key = model_id.to_bytes(8, "big") + round_.to_bytes(8, "big")
            info = client.query_json("/rounds/round", key)
            while info["submissions"] < SUBMISSIONS and height(urls[0]) < info["window_end"]:
                wait_for_height(urls[0], height(urls[0]) + 1, timeout=30)
                info = client.query_json("/rounds/round", key)
            assert info["submissions"] == SUBMISSIONS, info["submissions"]
            per_validator = info["total_shares"] // 2
            pending_bytes = per_validator * 32 * SUBMISSIONS
            assert pending_bytes > MAX_RELEASE_BYTES, f"only {pending_bytes} share bytes per validator: no backlog"

            # the window closes, the backlog is released over several heights, every update opens
            deadline_blocks = info["window_end"] + 40
            wait_for_height(urls[0], info["window_end"] + 1, timeout=120)
            opened = []
            while height(urls[0]) < deadline_blocks:
                subs = client.query_json("/rounds/round", key)["submission_list"]
                opened = [s for s in subs if s.get("opened_height")]
                if len(opened) == SUBMISSIONS:
                    break
                wait_for_height(urls[0], height(urls[0]) + 1, timeout=30)
            assert len(opened) == SUBMISSIONS, f"only {len(opened)} of {SUBMISSIONS} opened: {subs}"
            # the proposer carries the extended commit's shares in a release tx: more than one block had to
            opened_at = max(s["opened_height"] for s in opened)
            carrying = [h for h in range(info["window_end"], opened_at + 1)
                        if rpc(urls[0], "block", height=str(h))["block"]["data"]["txs"]]
            assert len(carrying) >= 2, f"the backlog was released in blocks {carrying}: not spread"

        assert_keeps_committing(urls)   # and the chain keeps committing, both nodes agreeing
    finally:
        stop_testnet(tmp_path)
