"""What an opened update reveals (issue 14, step 1): an outsider who only queries the chain turns a
trainer's opened delta back into her private training samples. These tests are the evidence for
docs/privacy.md; they pass because the attack works, and aggregate mode must make them fail."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "rounds"))

from inversion import best_cosines, first_layer_rows, recovered_label, relative_error  # noqa: E402
from roundsutil import RoundsChain  # noqa: E402
from test_release import next_block, votes, window  # noqa: E402

from chain.rounds.messages import MsgSubmitUpdate  # noqa: E402
from chainutil import BOB  # noqa: E402
from registryutil import activate, code, digits, tiny_model, u64, validation  # noqa: E402
from roundsutil import sealed  # noqa: E402

torch = pytest.importorskip("torch")


def one_sgd_step(net, X, y, lr):
    import copy
    net = copy.deepcopy(net).double()
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    loss = torch.nn.functional.cross_entropy(net(torch.from_numpy(X)), torch.from_numpy(y))
    opt.zero_grad()
    loss.backward()
    opt.step()
    return net


def served_update(model, shards, delta: bytes) -> bytes:
    """Submit `delta` on an in-process chain, let the validators open it, and read it back as an outsider
    does: the provable /rounds/update query (nothing a validator holds)."""
    chain = RoundsChain()
    model_id = activate(chain, model, shards)
    msg = MsgSubmitUpdate(model_id=model_id, round=0, parent_version=0,
                          envelope=sealed(chain, BOB, model_id, 0, delta))
    assert code(chain.run(BOB, msg)[0]) == ("", 0)
    _, end = window(chain, model_id)
    chain.until(end - 1)
    next_block(chain, votes(chain, end))
    answer = chain.query("/rounds/update", u64(model_id, 0, 0), prove=True)
    assert answer.code == 0 and answer.proof
    return answer.value


@pytest.fixture(scope="module")
def setup():
    net, model = tiny_model(seed=5)
    _, _, shards = validation(model)
    X, y = digits()
    return net, model, shards, X[:200], y[:200]   # the trainer's private samples: outside the validation split


def test_inversion_one_sgd_step_on_one_sample_gives_it_back_exactly(setup):
    from client.trainer import delta_from_torch
    net, model, shards, X, y = setup
    x, label = X[7:8], y[7:8]
    delta = delta_from_torch(model, one_sgd_step(net, x, label, lr=0.5))
    update = served_update(model, shards, delta)
    rows = first_layer_rows(update, model.spec)
    error = relative_error(rows[0], x[0])
    print(f"one SGD step, one sample: relative error {error:.2e}")
    assert error < 1e-3                                  # 64 of 64 pixels, from what any node serves
    assert recovered_label(update, model.spec) == int(label[0])


def test_inversion_a_batch_of_eight_spans_the_private_samples(setup):
    from client.trainer import delta_from_torch
    net, model, shards, X, y = setup
    batch, labels = X[20:28], y[20:28]
    delta = delta_from_torch(model, one_sgd_step(net, batch, labels, lr=0.5))
    cosines = best_cosines(first_layer_rows(served_update(model, shards, delta), model.spec), batch)
    print("one SGD step, batch of 8: best cosine per sample", " ".join(f"{c:.2f}" for c in cosines))
    assert min(cosines) > 0.5 and max(cosines) > 0.95


def test_inversion_survives_the_sdks_default_training(setup):
    """client.training.train's defaults (5 epochs of SGD with momentum) on one private sample."""
    from client.trainer import delta_from_torch
    from client.training import train_from_head
    net, model, shards, X, y = setup
    x, label = X[9:10], y[9:10]
    trained = train_from_head(model, (x, label), seed=0, progress=False)
    rows = first_layer_rows(served_update(model, shards, delta_from_torch(model, trained)), model.spec)
    error = relative_error(rows[0], x[0])
    print(f"SDK default training, one sample: relative error {error:.2e}")
    assert error < 1e-2


def test_inversion_local_dp_hides_the_sample_at_a_cost(setup):
    """The SDK's local DP at the documented setting (clip 1.0, noise multiplier 1.1) defeats the attack."""
    from client.dp import DPConfig, encode_delta, privatize
    from client.trainer import delta_from_torch
    net, model, shards, X, y = setup
    x, label = X[7:8], y[7:8]
    delta = delta_from_torch(model, one_sgd_step(net, x, label, lr=0.5))
    arrays, _ = privatize(delta, model, DPConfig(clip_norm=1.0, noise_multiplier=1.1, seed=3))
    rows = first_layer_rows(served_update(model, shards, encode_delta(arrays)), model.spec)
    [cos] = best_cosines(rows, x)
    print(f"local DP (clip 1.0, noise 1.1), one sample: best cosine {cos:.2f}")
    assert cos < 0.5    # against 1.00 without DP


@pytest.mark.integration
def test_inversion_on_a_real_node_from_public_queries_only(setup, tmp_path):
    """A real one-validator CometBFT testnet: the trainer submits one SGD step on one private digit through
    the SDK; an outsider with no key reads the opened update from RPC, checks its Merkle proof, and gets
    the digit and its label back."""
    import base64
    import time
    import tomllib

    from abci_app.testnet import init_testnet, start_testnet, stop_testnet
    from client import Client
    from client.owner import Owner
    from client.trainer import Trainer, delta_from_torch, submitted
    from client.wallet import Wallet
    from nodeutil import ROOT, free_port_base, wait_for_height

    net, model, _, X, y = setup
    faucet = Wallet.from_seed(b"\x6f" * 32)
    preset = tomllib.loads((ROOT / "config/local.toml").read_text())
    manifest = init_testnet(tmp_path, 1, "privacy-1", preset, [Wallet.from_seed(b"\x61" * 32).address_bytes],
                            faucet.address_bytes, port_base=free_port_base(10), timeout_commit="300ms")
    url = f"http://127.0.0.1:{manifest['nodes'][0]['rpc']}"
    start_testnet(tmp_path)
    try:
        wait_for_height(url, 2, timeout=90)
        Xv, yv = digits()
        with Client(url) as client:
            model_id, _ = Owner(client, faucet).register(
                net, Xv[-200:], yv[-200:], shard_size=100, bounty="5000uusdc", bond="1000ugrad", deposit="10ugrad",
                target_score=900_000, expiry_blocks=1000, round_blocks=4, reveal_blocks=20, progress=False)
            x, label = X[7:8], y[7:8]
            sub = submitted(Trainer(client, faucet).submit(model_id, delta_from_torch(model, one_sgd_step(net, x, label, 0.5))))
        with Client(url) as outsider:   # no wallet, no validator key: only public queries
            data = u64(model_id, sub.round, sub.seq)
            deadline = time.monotonic() + 90
            while outsider.query_json("/rounds/submission", data)["status"] == "sealed":
                assert time.monotonic() < deadline
                time.sleep(0.3)
            response = outsider.rpc.abci_query("/rounds/update", data, prove=True)
            key, value = base64.b64decode(response["key"]), base64.b64decode(response["value"])
            outsider.verify_query_proof(response, key, value)
        rows = first_layer_rows(value, model.spec)
        assert relative_error(rows[0], x[0]) < 1e-3
        assert recovered_label(value, model.spec) == int(label[0])
    finally:
        stop_testnet(tmp_path)
