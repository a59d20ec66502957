"""Cheap griefing on a real 4-validator CometBFT v0.38 testnet: one account pushes past the per-submitter cap
(rounds/13) and the round fills up to its cap (rounds/4). The extra txs are refused at CheckTx with those
codes, nothing is charged for them, the chain keeps making blocks with one app hash on every node, and the
other trainers' submissions land."""
import sys
import tomllib
from pathlib import Path

import pytest

from abci_app.node import read_genesis, write_genesis
from abci_app.testnet import init_testnet, load_manifest, start_testnet, stop_testnet
from client import Client
from client.errors import TxFailed
from client.owner import Owner
from client.trainer import Trainer, delta_from_torch
from client.model import to_chain
from client.wallet import Wallet
from nodeutil import ROOT, free_port_base, height, rpc, wait_for_height

sys.path.insert(0, str(ROOT / "tests" / "registry"))
from registryutil import digits, tiny_model  # noqa: E402

pytestmark = pytest.mark.integration
torch = pytest.importorskip("torch")

OPERATORS = [Wallet.from_seed(bytes([0x70 + i]) * 32) for i in range(4)]
FAUCET = Wallet.from_seed(b"\x7f" * 32)
PER_SUBMITTER, PER_ROUND = 4, 6


def set_rounds_params(root, params: dict) -> None:
    """The same rounds params in every node's genesis, before any node starts."""
    for node in load_manifest(root)["nodes"]:
        genesis = read_genesis(Path(node["home"]))
        genesis["app_state"]["rounds"] = {"params": params}
        write_genesis(Path(node["home"]), genesis)


def register_tiny_model(client: Client, owner: Wallet, seed: int, round_blocks: int):
    """A tiny digits model registered and activated by `owner`: (model id, its open round, a zero delta)."""
    net, _ = tiny_model(seed=seed)
    X, y = digits()
    model_id, _ = Owner(client, owner).register(net, X[-200:], y[-200:], shard_size=100, bounty="5000uusdc",
                                                bond="1000ugrad", deposit="10ugrad", target_score=900_000,
                                                expiry_blocks=1000, round_blocks=round_blocks, reveal_blocks=20,
                                                progress=False)
    round_ = client.query_json("/registry/model", model_id.to_bytes(8, "big"))["current_round"]
    return model_id, round_, delta_from_torch(to_chain(net, (64,)), net)


def assert_keeps_committing(urls: list[str]) -> None:
    """Three more blocks on every node, and one app hash per height across them."""
    target = height(urls[0]) + 3
    for u in urls:
        wait_for_height(u, target, timeout=30)
    for h in range(target - 5, target + 1):
        hashes = {rpc(u, "commit", height=str(h))["signed_header"]["header"]["app_hash"] for u in urls}
        assert len(hashes) == 1, f"nodes disagree at height {h}"


def refused(trainer: Trainer, model_id: int, round_: int, update: bytes) -> TxFailed:
    with pytest.raises(TxFailed) as caught:
        trainer.submit(model_id, update, round_=round_)
    return caught.value


def test_grief_submitter_cap_on_a_real_testnet_keeps_committing(tmp_path):
    preset = tomllib.loads((ROOT / "config/local.toml").read_text())
    manifest = init_testnet(tmp_path, 4, "grief-1", preset, [w.address_bytes for w in OPERATORS],
                            FAUCET.address_bytes, port_base=free_port_base(60), timeout_commit="200ms")
    set_rounds_params(tmp_path, {"max_submissions_per_round": PER_ROUND,
                                 "max_submissions_per_submitter": PER_SUBMITTER})
    urls = [f"http://127.0.0.1:{n['rpc']}" for n in manifest["nodes"]]
    start_testnet(tmp_path)
    try:
        for url in urls:
            wait_for_height(url, 2, timeout=90)
        with Client(urls[0]) as client:
            model_id, round_, zero = register_tiny_model(client, FAUCET, seed=5, round_blocks=200)
            attacker = Trainer(client, FAUCET)
            for i in range(PER_SUBMITTER):
                attacker.submit(model_id, zero + bytes([i]), round_=round_)
            balance = client.balances(FAUCET.address)["ugrad"]
            for i in range(2):   # refused at CheckTx: never in a block, nothing charged
                e = refused(attacker, model_id, round_, zero + bytes([10 + i]))
                assert (e.codespace, e.code, e.height) == ("rounds", 13, 0), e
                assert "max_submissions_per_submitter" in e.log
            assert client.balances(FAUCET.address)["ugrad"] == balance
            stalled_at = height(urls[0])

            # other trainers still submit, up to the round's cap; then the round cap refuses (rounds/4)
            for wallet in OPERATORS[1:1 + PER_ROUND - PER_SUBMITTER]:
                receipt = Trainer(client, wallet).submit(model_id, zero + b"honest", round_=round_)
                assert receipt.height > stalled_at
            e = refused(Trainer(client, OPERATORS[3]), model_id, round_, zero + b"late")
            assert (e.codespace, e.code, e.height) == ("rounds", 4, 0), e

            info = client.query_json("/rounds/round", model_id.to_bytes(8, "big") + round_.to_bytes(8, "big"))
            submitters = [s["submitter"] for s in info["submission_list"]]
            assert info["submissions"] == PER_ROUND and submitters.count(FAUCET.address) == PER_SUBMITTER
            assert {OPERATORS[1].address, OPERATORS[2].address} <= set(submitters)

        assert_keeps_committing(urls)   # the chain keeps committing, and every node agrees
    finally:
        stop_testnet(tmp_path)
