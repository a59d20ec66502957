"""A real model end to end: train on scikit-learn's digits, quantize, score on the chain kernel."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
datasets = pytest.importorskip("sklearn.datasets")

from chain.scoring.kernel import forward  # noqa: E402
from client.model import Formats, build_shards, from_chain, local_score, local_score_shard, quantize_inputs, to_chain  # noqa: E402


@pytest.fixture(scope="module")
def trained():
    digits = datasets.load_digits()  # bundled with scikit-learn: no download
    X = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(y))
    train, test = order[:1297], order[1297:]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny batches: one thread trains ~7x faster than two fighting
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    Xt, yt = torch.from_numpy(X[train]), torch.from_numpy(y[train])
    gen = torch.Generator().manual_seed(0)
    for _ in range(40):
        for batch in torch.randperm(len(train), generator=gen).split(64):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(Xt[batch]), yt[batch]).backward()
            opt.step()
    torch.set_num_threads(threads)
    net.eval()
    return net, X[test], y[test]


def test_quantized_accuracy_matches_float(trained):
    net, X, y = trained
    with torch.no_grad():
        float_logits = net(torch.from_numpy(X)).numpy()
    float_acc = float(np.mean(float_logits.argmax(1) == y))
    model = to_chain(net, input_shape=(64,))
    s = local_score(model, X, y)
    assert s.total == len(y)
    assert float_acc > 0.9, "the model should have learned digits"
    assert abs(s.correct / s.total - float_acc) <= 0.005
    # Stronger than the accuracy bound: at 2**-16 the argmax agrees on (nearly) every sample.
    chain_logits = forward(model.spec, model.weights, quantize_inputs(X, model.spec)).logits
    agreement = np.mean(chain_logits.argmax(1) == float_logits.argmax(1))
    assert agreement >= 0.995
    assert np.max(np.abs(chain_logits / 2.0 ** 16 - float_logits)) < 1e-2


def test_shards_score_like_the_whole_set(trained):
    net, X, y = trained
    model = to_chain(net, input_shape=(64,), formats=Formats(loss="mse"))
    shards = build_shards(X, y, model.spec, shard_size=128)
    assert shards.sizes == [128, 128, 128, 116]
    per_shard = [local_score_shard(model, raw) for raw in shards.shards]
    whole = local_score(model, X, y)
    assert sum(s.correct for s in per_shard) == whole.correct
    assert sum(s.loss for s in per_shard) == whole.loss  # integer sums: exactly additive


def test_round_trip_through_the_spec(trained):
    net, X, y = trained
    model = to_chain(net, input_shape=(64,))
    again = to_chain(from_chain(model), input_shape=(64,))
    assert again.spec_bytes == model.spec_bytes and again.weights_bytes == model.weights_bytes
