"""The trainer's and owner's whole loop through the SDK against an in-process chain: Trainer.train_and_submit
(the default training loop, optionally with differential privacy), Owner.reveal_due, Trainer.wait_for_result
and earnings. (The real-testnet version of this loop is tests/integration/test_federated_demo.py.)"""
import sys
from pathlib import Path

import pytest

_TESTS = Path(__file__).resolve().parent.parent
if str(_TESTS / "rounds") not in sys.path:
    sys.path.insert(0, str(_TESTS / "rounds"))

from roundsutil import RoundsChain  # noqa: E402
from test_release import next_block, votes  # noqa: E402

from chainutil import ALICE, BOB  # noqa: E402
from client.dp import DPConfig, PrivacyAccountant  # noqa: E402
from client.owner import Owner  # noqa: E402
from client.trainer import Trainer  # noqa: E402
from registryutil import VOUCHER, digits, in_process_client, tiny_model  # noqa: E402

torch = pytest.importorskip("torch")


def test_train_submit_reveal_and_get_paid_in_process():
    chain = RoundsChain()
    net, _ = tiny_model()
    X, y = digits()
    owner_client, trainer_client = in_process_client(chain), in_process_client(chain)
    owner = Owner(owner_client, ALICE)
    reg = owner.register(net, X[-400:], y[-400:], shard_size=100, bounty=f"50000{VOUCHER}", bond="1000ugrad",
                         deposit="100ugrad", target_score=900_000, expiry_blocks=500, round_blocks=6,
                         reveal_blocks=6, min_improvement=1000, progress=False)
    trainer = Trainer(trainer_client, BOB)
    assert owner.reveal_due(reg.model_id, reg.shards) == []            # nothing closed yet
    accountant = PrivacyAccountant()
    sub = trainer.train_and_submit(reg.model_id, X[:1000], y[:1000], progress=False,
                                   dp=DPConfig(clip_norm=50.0, noise_multiplier=0.01, seed=1), accountant=accountant)
    assert trainer.last_dp_report.epsilon > 0 and accountant.rounds == 1
    info = trainer.round(reg.model_id, sub.round)
    assert info["submission_list"][sub.seq]["status"] == "sealed"
    chain.until(info["window_end"] - 1)
    next_block(chain, votes(chain, info["window_end"]))                 # the validators release their shares
    [receipt] = owner.reveal_due(reg.model_id, reg.shards)              # round sub.round, first free shard
    assert owner.reveal_due(reg.model_id, reg.shards) == []             # once per round
    chain.until(chain.height + 15)
    record = trainer.wait_for_result(sub, timeout=5, progress=False)
    assert record["status"] == "settled" and record["outcome"] == "accepted" and record["payout_pending"]
    assert trainer.earnings()["earned"] == {}          # paid once a later round confirms, or at the close
    chain.until(owner.model(reg.model_id)["expiry_height"])
    record = trainer.wait_for_result(sub, timeout=5, progress=False, paid=True)
    assert int(record["payout"]) > 0 and not record["payout_pending"]
    assert trainer.earnings()["earned"] == {VOUCHER: record["payout"]}
    assert owner.model(reg.model_id)["head_version"] == 1
    assert receipt.height > info["window_end"]
