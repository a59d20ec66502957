"""A second task, so that nothing is tuned to digits (issue 16 item 6): scikit-learn's breast-cancer data
(30 standardized features, 2 classes) with a different architecture (30-24-12-2, two hidden layers),
trained through the chain's rounds by two trainers with different halves of the data, reaches at least
95% of the accuracy of the same architecture trained centrally on all of it."""
import numpy as np
import pytest

from test_settle import new_chain, play_round

from chain.scoring.weights import load_weights
from chainutil import BOB, CAROL
from client.model import ChainModel, build_shards, from_chain, local_score, to_chain
from client.trainer import delta_from_torch
from registryutil import u64

torch = pytest.importorskip("torch")
sklearn = pytest.importorskip("sklearn")


def data():
    from sklearn.datasets import load_breast_cancer
    X, y = load_breast_cancer(return_X_y=True)
    order = np.random.default_rng(7).permutation(len(X))
    X, y = X[order], y[order]
    X = ((X - X.mean(axis=0)) / X.std(axis=0)).astype(np.float32)
    return (X[:114], y[:114]), (X[114:264], y[114:264]), (X[264:], y[264:])   # test, validation, train


def fit(net, X, y, epochs=40, seed=0):
    torch.manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    Xt, yt = torch.tensor(X, dtype=net[0].weight.dtype), torch.tensor(y, dtype=torch.long)
    for _ in range(epochs):
        for i in range(0, len(Xt), 32):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(Xt[i:i + 32]), yt[i:i + 32]).backward()
            opt.step()
    return net


def architecture(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(30, 24), torch.nn.ReLU(), torch.nn.Linear(24, 12), torch.nn.ReLU(),
                               torch.nn.Linear(12, 2))


def accuracy(model: ChainModel, X, y) -> float:
    s = local_score(model, X, y)
    return s.correct / s.total


def test_second_task_breast_cancer_trains_through_the_chain_to_95_percent_of_central():
    (X_test, y_test), (X_val, y_val), (X_train, y_train) = data()
    start = to_chain(architecture(), input_shape=(30,))
    shards = build_shards(X_val, y_val, start.spec, 50)                   # 3 hidden shards of 50
    chain, model_id = new_chain(shards, start, round_blocks=20, reveal_blocks=10, target_score=990_000,
                                min_improvement=1)
    central = accuracy(to_chain(fit(architecture(), X_train, y_train), input_shape=(30,)), X_test, y_test)
    half = len(X_train) // 2
    parts = {BOB: (X_train[:half], y_train[:half]), CAROL: (X_train[half:], y_train[half:])}
    head = start
    for round_ in range(3):
        record = chain.model(model_id)
        subs = [(w, delta_from_torch(head, fit(from_chain(head).float(), X, y, epochs=15, seed=round_)),
                 record["head_version"]) for w, (X, y) in parts.items()]
        play_round(chain, model_id, round_, subs, reveal_index=round_)
        version = chain.model(model_id)["head_version"]
        raw = chain.query("/registry/weights", u64(model_id, version)).value
        head = ChainModel(start.spec, load_weights(raw, start.spec))
    final = accuracy(head, X_test, y_test)
    print(f"breast cancer through the chain: {final:.3f} test accuracy; central {central:.3f}")
    assert chain.model(model_id)["head_version"] >= 1
    assert final >= 0.95 * central, (final, central)
