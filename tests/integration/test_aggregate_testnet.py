"""Aggregate mode on a real 4-validator CometBFT v0.38.25 testnet (issue 14): four trainers with skewed
private digits splits train a model whose rounds publish only cohort means (k = 3), through the SDK's
unchanged train_and_submit; in one round a trainer joins and drops out, so its round key is released and
its masks leave the others' sum. Asserts: the chain-trained model reaches 95% of central accuracy, the
dropout's cohort still sums, every update the chain ever stored is a cohort mean, and all four validators
agree on the app hash at every height."""
import sys

import pytest

from client import Client
from client.wallet import Wallet
from nodeutil import ROOT, app_hashes_by_height, height, preset_testnet, served_updates

pytestmark = pytest.mark.integration
torch = pytest.importorskip("torch")
sys.path.insert(0, str(ROOT / "scripts"))
import demo_training  # noqa: E402

OPERATORS = [Wallet.from_seed(bytes([0x70 + i]) * 32) for i in range(4)]
FAUCET = Wallet.from_seed(b"\x7f" * 32)


@pytest.fixture(scope="module")
def aggregate_demo(tmp_path_factory):
    home = tmp_path_factory.mktemp("aggregate")
    with preset_testnet(home, 4, "agg-1", OPERATORS, FAUCET) as urls:
        start = height(urls[0])
        clients = [Client(urls[i % 4]) for i in range(4)]
        result = demo_training.run(urls[0], FAUCET, rounds=3, quiet=True, clients=clients, privacy="aggregate",
                                   dropout_round=1)
        hashes = app_hashes_by_height(urls, start)
        stored = served_updates(urls[0], result)
        yield result, hashes, stored


def test_aggregate_mode_testnet_reaches_95_percent_of_central(aggregate_demo):
    result, *_ = aggregate_demo
    for r in result["history"]:   # shown on failure: the path the head took
        print(r["round"], f"{r['head_before']:.3f} -> {r['head_after']:.3f}", r["info"].get("new_version"),
              [(c["status"], c.get("submitted")) for c in r["info"]["cohort_list"]],
              [(s.get("outcome"), s.get("gain"), s.get("score")) for s in r["info"]["submission_list"]])
    assert result["final_accuracy"] >= 0.95 * result["central_accuracy"], result["final_accuracy"]


def test_aggregate_mode_testnet_dropout_cohort_still_sums(aggregate_demo):
    result, *_ = aggregate_demo
    info = result["history"][1]["info"]
    dropped = [m for m in info["member_list"] if m.get("release") == "key"]
    assert len(dropped) == 1 and dropped[0]["outcome"] == "dropout" and dropped[0]["deposit_returned"]
    [cohort] = info["cohort_list"]
    assert cohort["status"] == "unmasked" and len(cohort["submitted"]) == 3


def test_aggregate_mode_testnet_stores_only_cohort_means(aggregate_demo):
    result, _, stored = aggregate_demo
    for r in result["history"]:
        subs = r["info"]["submission_list"]
        assert subs and all("members" in s and len(s["members"]) >= 3 for s in subs)
        assert len(subs) == len(r["info"]["cohort_list"])
    assert all(stored.values())     # each cohort mean is served, provably; nothing else is


def test_aggregate_mode_testnet_app_hashes_agree_at_every_height(aggregate_demo):
    _, hashes, _ = aggregate_demo
    assert hashes and all(len(v) == 1 for v in hashes.values())
