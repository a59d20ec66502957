"""The registry on a real CometBFT v0.38 node: the owner SDK over HTTP RPC, pipelined chunk uploads
through the mempool, a rejected upload that still reaches its block and resets, reveal and scoring."""
import hashlib

import pytest

from abci_app.node import init_node
from chain.tx.coins import Coin
from client import Client, TxFailed
from client.model import local_score
from client.owner import Owner, model, versions, weights
from client.wallet import Wallet
from nodeutil import free_node_ports, running_node, wait_for_height
from registryutil import VOUCHER, digits, register_msg, tiny_model, upload_msgs, validation

pytestmark = pytest.mark.integration
torch = pytest.importorskip("torch")

OWNER = Wallet.from_seed(b"\x31" * 32)
PARAMS = {"fee_denom": "ugrad", "min_fee_base": 100, "min_fee_per_byte": 1, "max_tx_bytes": 1 << 20}
REGISTRY = {"max_chunk_bytes": 1024, "max_shard_samples": 200, "scoring_work_per_block": 50_000}


@pytest.fixture
def node(tmp_path):
    home = tmp_path / "node"
    state = {"auth": {"params": PARAMS}, "registry": {"params": REGISTRY},
             "bank": {"balances": [{"address": OWNER.address, "coins": [
                 {"denom": VOUCHER, "amount": "1000000"}, {"denom": "ugrad", "amount": "100000000"}]}]}}
    init_node(home, "n0", "registry-1", state, ports=free_node_ports(), timeout_commit="200ms")
    with running_node(home) as running:
        wait_for_height(running.rpc, 2, proc=running.proc)
        yield running


def test_owner_flow_on_a_real_node(node):
    net, chain_model = tiny_model(seed=5)
    X, y = digits()
    X, y = X[-200:], y[-200:]
    with Client(node.rpc) as client:
        owner = Owner(client, OWNER)
        model_id, shards = owner.register(net, X, y, shard_size=100, bounty=f"5000{VOUCHER}", bond="1000ugrad",
                                          deposit="10ugrad", target_score=900_000, expiry_blocks=500,
                                          round_blocks=3, reveal_blocks=10, progress=False)
        assert model(client, model_id)["status"] == "active"
        assert weights(client, model_id, 0) == chain_model.weights_bytes
        receipt = owner.reveal(model_id, 0, shards, 1)
        wait_for_height(node.rpc, receipt.height + 3, proc=node.proc)  # 118,400 work at 50,000 per block
        [v0] = versions(client, model_id)["versions"]
        expected = local_score(chain_model, X[100:], y[100:])
        assert [(s["correct"], s["total"], int(s["loss"])) for s in v0["scores"]] == \
            [(expected.correct, expected.total, expected.loss)]


def test_rejected_upload_reaches_its_block_and_resets(node):
    _, chain_model = tiny_model(seed=6)
    _, _, shards = validation(chain_model)
    wrong = bytearray(chain_model.weights_bytes)
    wrong[-1] ^= 1
    with Client(node.rpc) as client:
        receipt = client.submit(OWNER, [register_msg(chain_model, shards, expiry_height=10_000,
                                                     bounty=Coin.of(VOUCHER, 10))])
        model_id = int(next(a["value"] for e in receipt.events if e["type"] == "register_model"
                            for a in e["attributes"] if a["key"] == "model_id"))
        msgs = upload_msgs(model_id, bytes(wrong))
        for msg in msgs[:-1]:
            client.submit(OWNER, [msg], wait=False)
        with pytest.raises(TxFailed) as failed:
            client.submit(OWNER, [msgs[-1]])
        assert failed.value.name == "WeightsHashMismatch" and failed.value.height > 0  # admitted, failed in a block
        assert model(client, model_id)["chunks_received"] == 0
        Owner(client, OWNER).upload(model_id, chain_model.weights_bytes, progress=False)
        record = model(client, model_id)
        assert record["status"] == "active"
        assert hashlib.sha256(weights(client, model_id)).hexdigest() == record["weights_hash"]
