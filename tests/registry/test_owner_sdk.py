"""The owner SDK and the registry CLI against an in-process chain (client.Client over an in-process RPC)."""
import hashlib
import json
from unittest import mock

import pytest
from click.testing import CliRunner

from chain.bank import keeper as bank
from chain.registry import keeper
from chain.registry.messages import MsgUploadWeights
from chainutil import ALICE, CAROL
from client.errors import GradchainError, TxFailed
from client.model import ModelError, local_score
from client.owner import Owner, model, models, shard, spec, versions, weights
from registryutil import VOUCHER, RegistryChain, digits, in_process_client, tiny_model

torch = pytest.importorskip("torch")


@pytest.fixture
def world():
    chain = RegistryChain()
    client = in_process_client(chain)
    net, chain_model = tiny_model(seed=3)
    X, y = digits()
    return chain, client, net, chain_model, X[-250:], y[-250:]


def register(client, net, X, y, **overrides):
    kwargs = dict(shard_size=100, bounty=f"100000{VOUCHER}", bond="50000ugrad", deposit="100ugrad",
                  target_score=900_000, expiry_blocks=60, round_blocks=4, reveal_blocks=6, progress=False)
    kwargs.update(overrides)
    return Owner(client, ALICE).register(net, X, y, **kwargs)


def test_register_upload_reveal_fund_close(world, capsys):
    chain, client, net, chain_model, X, y = world
    reg = register(client, net, X, y, progress=True)
    assert "weights" in capsys.readouterr().err  # the tqdm bar
    assert reg.model_id == 1 and len(reg.shards.shards) == 3 and reg.shards.sizes == [100, 100, 50]
    record = model(client, reg.model_id)
    assert record["status"] == "active" and record["chunk_count"] == 5
    assert weights(client, reg.model_id) == chain_model.weights_bytes == weights(client, reg.model_id, 0)
    assert spec(client, reg.model_id) == chain_model.spec_bytes
    assert [m["id"] for m in models(client)] == [1]

    owner = Owner(client, ALICE)
    receipt = owner.reveal(reg.model_id, 0, reg.shards, 2)  # waits for round 0 to close
    assert receipt.height == record["activated_height"] + 1 + 4
    assert shard(client, reg.model_id, 2) == reg.shards.shards[2] and shard(client, reg.model_id, 0) is None
    client.rpc.wait_for_height(receipt.height + 2)  # 50 samples x 1184 = 59,200 work: two blocks
    expected = local_score(chain_model, X[200:], y[200:])
    [v0] = versions(client, reg.model_id)["versions"]
    assert [(s["round"], s["correct"], s["total"], int(s["loss"])) for s in v0["scores"]] == \
        [(0, expected.correct, expected.total, expected.loss)]

    Owner(client, CAROL).fund(reg.model_id, (VOUCHER, 40))
    assert model(client, reg.model_id)["escrow"] == "100040"
    client.rpc.wait_for_height(record["expiry_height"] - 1)
    voucher = bank.balance(chain.app.store, ALICE.address_bytes, VOUCHER)
    owner.close(reg.model_id)
    assert bank.balance(chain.app.store, ALICE.address_bytes, VOUCHER) == voucher + 100_040
    assert bank.balances(chain.app.store, keeper.ESCROW) == []


def test_register_accepts_a_chain_model_and_resumes_an_upload(world):
    chain, client, net, chain_model, X, y = world
    owner = Owner(client, ALICE)
    with mock.patch.object(Owner, "upload"):  # registration lands, the upload is "interrupted"
        reg = register(client, chain_model, X, y)
    assert model(client, reg.model_id)["status"] == "uploading"
    client.submit(ALICE, [MsgUploadWeights(model_id=reg.model_id, index=1, data=chain_model.weights_bytes[1024:2048])])
    before = client.sequence(ALICE.address)
    owner.upload(reg.model_id, chain_model.weights_bytes, progress=False)
    assert client.sequence(ALICE.address) == before + 4  # only the 4 missing chunks were sent
    assert model(client, reg.model_id)["status"] == "active"


def test_sdk_refuses_what_the_chain_would_refuse(world):
    chain, client, net, chain_model, X, y = world
    with pytest.raises(ModelError, match="not supported"):
        register(client, torch.nn.Sequential(torch.nn.Linear(64, 10), torch.nn.Sigmoid()), X, y)
    with pytest.raises(ModelError, match="max_shard_samples"):
        register(client, net, X, y, shard_size=151)
    with pytest.raises(ModelError, match="parameters"):
        register(client, torch.nn.Sequential(torch.nn.Linear(64, 20_000)), X, y)
    with pytest.raises(TxFailed) as refused:
        register(client, net, X, y, reward_curve=((0, 0), (5000, 9000), (7000, 8000), (10_000, 10_000)))
    assert refused.value.name == "InvalidRewardCurve" and refused.value.height == 0  # refused: nothing charged
    with pytest.raises(GradchainError, match="AMOUNTDENOM"):
        register(client, net, X, y, bounty="lots")


def test_cli_queries(world, tmp_path, monkeypatch):
    chain, client, net, chain_model, X, y = world
    reg = register(client, net, X, y)
    monkeypatch.setattr("cli.registry.client_for", lambda ctx: client)
    from cli.main import main
    runner = CliRunner()

    out = runner.invoke(main, ["-o", "json", "query", "models"])
    assert out.exit_code == 0, out.output
    assert [m["id"] for m in json.loads(out.output)] == [reg.model_id]
    out = runner.invoke(main, ["query", "model", str(reg.model_id)])
    assert out.exit_code == 0 and "(active)" in out.output and f"100000{VOUCHER}" in out.output
    target = tmp_path / "w.bin"
    out = runner.invoke(main, ["-o", "json", "query", "weights", str(reg.model_id), "--out", str(target)])
    assert out.exit_code == 0, out.output
    assert target.read_bytes() == chain_model.weights_bytes
    assert json.loads(out.output)["sha256"] == hashlib.sha256(chain_model.weights_bytes).hexdigest()
    out = runner.invoke(main, ["query", "versions", str(reg.model_id)])
    assert out.exit_code == 0 and "v0 (head) parent None" in out.output
    out = runner.invoke(main, ["query", "model", "9"])
    assert out.exit_code == 1 and "UnknownModel (registry/1)" in out.output and "Traceback" not in out.output
    out = runner.invoke(main, ["query", "weights", str(reg.model_id), "--version", "3", "--out", str(target)])
    assert out.exit_code == 1 and "UnknownVersion (registry/19)" in out.output
    from chain.scoring.spec import load_spec
    from chain.scoring.weights import load_weights
    loaded = load_weights(target.read_bytes(), load_spec(chain_model.spec_bytes, 10**6))
    assert all((a == b).all() for a, b in zip(loaded, chain_model.weights))
