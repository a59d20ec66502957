"""An owner's CLI (cli/owner.py) against an in-process chain: `tx register` from a saved torch model and a
validation file keeps the hidden shards in an owner-only file and activates the model; `tx fund` adds to its
bounty; `tx close` closes it early when no round is in flight and refunds bounty and bond; mistakes are
one clear error and nothing is signed."""
import json
import os
import stat
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

_TESTS = Path(__file__).resolve().parent.parent
for sub in ("registry", "rounds"):
    if str(_TESTS / sub) not in sys.path:
        sys.path.insert(0, str(_TESTS / sub))

import client.client  # noqa: E402
from chainutil import ALICE  # noqa: E402
from cli.main import main  # noqa: E402
from client.rounds import load_shards  # noqa: E402
from client.wallet import Keyring  # noqa: E402
from registryutil import VOUCHER, InProcessRPC, RegistryChain, digits, tiny_model  # noqa: E402

torch = pytest.importorskip("torch")
PASSWORD = "test-password"


@pytest.fixture
def owner_cli(tmp_path, monkeypatch):
    chain = RegistryChain()
    rpc = InProcessRPC(chain)
    original = client.client.Client

    def in_process(url="", timeout=30.0, **kwargs):
        c = original("http://in-process")
        c.rpc.close()
        c.rpc = rpc
        return c
    monkeypatch.setattr(client.client, "Client", in_process)
    Keyring(tmp_path / "keyring").add("alice", PASSWORD, ALICE)
    net, _ = tiny_model()
    torch.save(net, tmp_path / "model.pt")
    X, y = digits()
    np.savez(tmp_path / "val.npz", X=X[:300].astype(np.float32), y=y[:300])

    def cli(*args, ok=True):
        result = CliRunner().invoke(main, ["--home", str(tmp_path), "-o", "json", *map(str, args)],
                                    env={"GRADCHAIN_PASSWORD": PASSWORD})
        if ok:
            assert result.exit_code == 0, result.output
            return json.loads(result.output)
        assert result.exit_code != 0 and "Traceback" not in result.output, result.output
        return json.loads(result.output.strip().splitlines()[-1])["error"]
    cli.chain, cli.home = chain, tmp_path
    return cli


def register_args(home, *extra):
    return ("tx", "register", home / "model.pt", "--data", home / "val.npz", "--shard-size", 100,
            "--bounty", f"50000{VOUCHER}", "--bond", "50000ugrad", "--deposit", "100ugrad", "--target", 0.9,
            "--round-blocks", 6, "--reveal-blocks", 4, "--expiry-blocks", 60, "--from", "alice", *extra)


def test_owner_cli_register_fund_close(owner_cli):
    home = owner_cli.home
    reg = owner_cli(*register_args(home))
    model = owner_cli("query", "model", reg["model_id"])
    assert model["status"] == "active" and model["target_score"] == 900_000 and model["min_improvement"] == 10_000
    shards = Path(reg["shards_file"])
    assert stat.S_IMODE(os.stat(shards).st_mode) == 0o600            # the hidden validation set: owner-only
    assert load_shards(shards).root.hex() == model["shard_root"] and reg["shards"] == 3
    funded = owner_cli("tx", "fund", reg["model_id"], f"2500{VOUCHER}", "--from", "alice")
    assert funded["fee"] and owner_cli("query", "model", reg["model_id"])["escrow"] == "52500"
    closed = owner_cli("tx", "close", reg["model_id"], "--from", "alice")   # no round in flight: early close
    assert closed["event"]["refund"] == f"52500{VOUCHER},50000ugrad" and closed["fee"]
    assert owner_cli("query", "model", reg["model_id"])["status"] == "closed"
    again = owner_cli("tx", "close", reg["model_id"], "--from", "alice", ok=False)
    assert (again["codespace"], again["code"]) == ("registry", 8)       # ModelClosed, one clear error


def test_owner_cli_register_aggregate_mode_and_refusals(owner_cli):
    home = owner_cli.home
    error = owner_cli(*register_args(home, "--privacy", "aggregate"), ok=False)
    assert "--cohort-size" in error["log"]
    reg = owner_cli(*register_args(home, "--privacy", "aggregate", "--cohort-size", 3, "--aggregator", "median"))
    model = owner_cli("query", "model", reg["model_id"])
    assert (model["privacy"], model["cohort_size"], model["aggregator"]) == ("aggregate", 3, "median")
    (home / "bad.pt").write_bytes(b"not a model")
    error = owner_cli("tx", "register", home / "bad.pt", *register_args(home)[3:], ok=False)
    assert "torch model" in error["log"]
    error = owner_cli(*register_args(home)[:-4], "--target", 95, "--from", "alice", ok=False)
    assert "between 0 and 1" in error["log"]
