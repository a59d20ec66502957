"""The default training loop and training from the chain's head (client/training.py), on sklearn digits:
the loss falls; a net trained from the head, turned back into a delta with delta_from_torch, makes a
candidate (parent + delta, exactly as the chain applies it) that local_score rates higher on held-out
data; an untouched head makes the zero delta; head_model reads the head back from a real node."""
import numpy as np
import pytest

from chain.rounds.delta import apply_delta, decode_delta
from client.errors import GradchainError
from client.model import ChainModel, Formats, local_score, to_chain
from client.trainer import delta_from_torch
from client.training import head_model, train, train_from_head

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    return (X[:1200], y[:1200]), (X[1200:], y[1200:])


def mlp(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))


def mean_loss(net, X, y):
    with torch.no_grad():
        logits = net(torch.as_tensor(X).to(next(net.parameters()).dtype))
        return float(torch.nn.functional.cross_entropy(logits, torch.as_tensor(y)))


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_loss_decreases(digits, optimizer):
    (X, y), _ = digits
    net = mlp()
    before = mean_loss(net, X, y)
    epochs = []
    trained = train(net, (X, y), epochs=4, optimizer=optimizer, seed=1, progress=False,
                    on_epoch=lambda epoch, loss: epochs.append(loss))
    assert trained is net and not net.training
    assert len(epochs) == 4 and epochs[-1] < epochs[0]
    assert mean_loss(net, X, y) < before


def test_a_dataloader_and_the_progress_bar(digits, capsys):
    from torch.utils.data import DataLoader, TensorDataset
    (X, y), _ = digits
    loader = DataLoader(TensorDataset(torch.tensor(X, dtype=torch.float32), torch.tensor(y)), batch_size=32,
                        shuffle=True, generator=torch.Generator().manual_seed(0))
    net = mlp()
    before = mean_loss(net, X, y)
    train(net, loader, epochs=2, optimizer="adam", lr=1e-2)
    assert mean_loss(net, X, y) < before
    assert "training" in capsys.readouterr().err                  # tqdm's bar, on stderr


def test_training_from_the_head_makes_a_delta_that_scores_better(digits):
    (X, y), (X_val, y_val) = digits
    head = to_chain(train(mlp(), (X[:200], y[:200]), epochs=1, seed=0, progress=False), input_shape=(64,))
    net = train_from_head(head, (X, y), epochs=8, seed=2, progress=False)
    update = delta_from_torch(head, net)
    candidate = ChainModel(head.spec, apply_delta(head.spec, head.weights, update))   # what the chain scores
    before, after = local_score(head, X_val, y_val), local_score(candidate, X_val, y_val)
    assert after.correct > before.correct and after.loss < before.loss
    assert after.correct > 0.85 * after.total


def test_an_untouched_head_is_the_zero_delta():
    head = to_chain(mlp(), input_shape=(64,))
    from client.model import from_chain
    assert all(not d.any() for d in decode_delta(delta_from_torch(head, from_chain(head))))


def test_the_head_loss_is_the_default(digits):
    (X, y), (X_val, y_val) = digits
    head = to_chain(mlp(), input_shape=(64,), formats=Formats(loss="mse"))
    seen = []
    net = train_from_head(head, (X, y), epochs=3, optimizer="adam", lr=1e-2, seed=0, progress=False,
                          on_epoch=lambda epoch, loss: seen.append(loss))
    assert seen[-1] < seen[0]
    candidate = ChainModel(head.spec, apply_delta(head.spec, head.weights, delta_from_torch(head, net)))
    assert local_score(candidate, X_val, y_val).loss < local_score(head, X_val, y_val).loss   # the chain's MSE


def test_bad_inputs_say_what_to_change(digits):
    (X, y), _ = digits
    with pytest.raises(GradchainError, match="optimizer"):
        train(mlp(), (X, y), optimizer="lbfgs", progress=False)
    with pytest.raises(GradchainError, match="loss"):
        train(mlp(), (X, y), loss="hinge", progress=False)
    with pytest.raises(GradchainError, match="as many labels"):
        train(mlp(), (X, y[:10]), progress=False)
    with pytest.raises(GradchainError, match="DataLoader"):
        train(mlp(), X, progress=False)


@pytest.mark.integration
def test_head_model_reads_the_head_from_a_node(tmp_path, digits):
    from abci_app.node import init_node
    from client import Client
    from client.owner import Owner
    from client.wallet import Wallet
    from nodeutil import free_node_ports, running_node, wait_for_height
    owner = Wallet.from_seed(b"\x0d" * 32)
    state = {"auth": {"params": {"fee_denom": "ugrad", "min_fee_base": 100, "min_fee_per_byte": 1,
                                 "max_tx_bytes": 1 << 20}},
             "bank": {"balances": [{"address": owner.address, "coins": [
                 {"denom": "ugrad", "amount": "100000000"}, {"denom": "uusdc", "amount": "100000"}]}]}}
    init_node(tmp_path / "node", "n0", "training-1", state, ports=free_node_ports(), timeout_commit="200ms")
    _, (X_val, y_val) = digits
    net = mlp(seed=3)
    with running_node(tmp_path / "node") as node, Client(node.rpc) as client:
        wait_for_height(node.rpc, 2, proc=node.proc)
        model_id, _ = Owner(client, owner).register(net, X_val[:100], y_val[:100], shard_size=100, bounty="100uusdc",
                                                    bond="1000ugrad", deposit="10ugrad", target_score=900_000,
                                                    expiry_blocks=500, progress=False)
        head = head_model(client, model_id)
    expected = to_chain(net, input_shape=(64,))
    assert head.spec == expected.spec
    assert all(np.array_equal(a, b) for a, b in zip(head.weights, expected.weights))
