"""The privacy ledger (issue 14 item 4): epsilon accumulates per (chain, address, model) across processes,
and a submission that would pass the trainer's budget is refused before anything is trained or sent."""
import json
import sys
from pathlib import Path

import pytest

_TESTS = Path(__file__).resolve().parent.parent
if str(_TESTS / "rounds") not in sys.path:
    sys.path.insert(0, str(_TESTS / "rounds"))

from roundsutil import RoundsChain  # noqa: E402

from chain.auth.ante import sequence  # noqa: E402
from chainutil import ALICE, BOB  # noqa: E402
from client.dp import DPConfig, PrivacyAccountant  # noqa: E402
from client.errors import GradchainError  # noqa: E402
from client.owner import Owner  # noqa: E402
from client.privacy_ledger import EpsilonBudgetExceeded, PrivacyLedger  # noqa: E402
from client.trainer import Trainer  # noqa: E402
from registryutil import VOUCHER, digits, in_process_client, tiny_model  # noqa: E402

torch = pytest.importorskip("torch")
pytest.importorskip("dp_accounting")
DP = DPConfig(clip_norm=50.0, noise_multiplier=1.0, seed=1)


def test_privacy_ledger_composes_rounds_recorded_by_separate_processes(tmp_path):
    path = tmp_path / "privacy_ledger.json"
    for round_ in range(3):   # three "processes", each with its own ledger object
        with PrivacyLedger(path).spend("c-1", "grad1me", 4, DP) as record:
            record(round_, f"TX{round_}")
    one = PrivacyAccountant()
    one.record(1.0, rounds=3)
    assert PrivacyLedger(path).epsilon("c-1", "grad1me", 4) == pytest.approx(one.epsilon(1e-5))
    assert PrivacyLedger(path).epsilon("c-1", "grad1me", 5) == 0.0      # per model
    assert PrivacyLedger(path).epsilon("c-2", "grad1me", 4) == 0.0      # per chain
    with pytest.raises(RuntimeError):   # a body that fails records nothing
        with PrivacyLedger(path).spend("c-1", "grad1me", 4, DP):
            raise RuntimeError("submission failed")
    assert len(PrivacyLedger(path).entry("c-1", "grad1me", 4)["rounds"]) == 3
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_epsilon_budget_refuses_the_round_that_would_pass_it(tmp_path):
    ledger = PrivacyLedger(tmp_path / "l.json")
    one = PrivacyAccountant()
    one.record(1.0, rounds=2)
    ledger.set_budget("c-1", "grad1me", 4, epsilon=one.epsilon(1e-5) + 1e-9)
    for round_ in range(2):
        with ledger.spend("c-1", "grad1me", 4, DP) as record:
            record(round_, "TX")
    with pytest.raises(EpsilonBudgetExceeded, match="past the budget"):
        with ledger.spend("c-1", "grad1me", 4, DP):
            pytest.fail("the body must not run")
    with pytest.raises(GradchainError):
        ledger.set_budget("c-1", "grad1me", 4, epsilon=-1)


def test_privacy_ledger_corrupt_file_is_refused_not_reset(tmp_path):
    path = tmp_path / "l.json"
    path.write_text("{not json")
    with pytest.raises(GradchainError, match="restore it"):
        PrivacyLedger(path).epsilon("c", "a", 1)
    assert path.read_text() == "{not json"


def test_epsilon_budget_stops_the_trainer_before_it_trains(tmp_path):
    chain = RoundsChain()
    net, _ = tiny_model()
    X, y = digits()
    owner = Owner(in_process_client(chain), ALICE)
    reg = owner.register(net, X[-400:], y[-400:], shard_size=100, bounty=f"50000{VOUCHER}", bond="1000ugrad",
                         deposit="100ugrad", target_score=900_000, expiry_blocks=500, round_blocks=30,
                         reveal_blocks=6, progress=False)
    client = in_process_client(chain)
    trainer, ledger = Trainer(client, BOB), PrivacyLedger(tmp_path / "privacy_ledger.json")
    one = PrivacyAccountant()
    one.record(1.0)
    ledger.set_budget(client.chain_id, BOB.address, reg.model_id, epsilon=one.epsilon(1e-5) * 1.01)
    sub = trainer.train_and_submit(reg.model_id, X[:300], y[:300], dp=DP, ledger=ledger, progress=False)
    entry = ledger.entry(client.chain_id, BOB.address, reg.model_id)
    assert [r["tx_hash"] for r in entry["rounds"]] == [sub.receipt.tx_hash]
    assert trainer.last_dp_report.epsilon == pytest.approx(one.epsilon(1e-5))
    trained = []
    seq = sequence(chain.app.store, BOB.address_bytes)
    with pytest.raises(EpsilonBudgetExceeded):
        trainer.train_and_submit(reg.model_id, X[:300], y[:300], dp=DP, ledger=ledger, progress=False,
                                 train=lambda net, X_, y_: trained.append(1) or net)
    assert trained == [] and sequence(chain.app.store, BOB.address_bytes) == seq   # nothing trained or sent
    assert len(json.loads((tmp_path / "privacy_ledger.json").read_text())["entries"]) == 1
