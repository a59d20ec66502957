"""The SDK's conversions: clear errors for what the chain cannot score, exact rounding for what it can."""
import numpy as np
import pytest

from chain.scoring.spec import LAYER_FLATTEN, LAYER_LINEAR, LAYER_RELU
from client.model import Formats, ModelError, build_shards, quantize, to_chain

torch = pytest.importorskip("torch")
nn = torch.nn


def test_quantize_rounds_half_to_even_and_refuses_out_of_range():
    halves = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5]) / 2 ** 4
    assert quantize(halves, 4, 8).tolist() == [0, 2, 2, 0, -2, -2]
    with pytest.raises(ModelError, match="declared range"):
        quantize([200.0], 16, 24)
    with pytest.raises(ModelError, match="NaN"):
        quantize([float("nan")], 16, 24)


def test_sequential_with_flatten_dropout_and_no_bias():
    torch.manual_seed(1)
    net = nn.Sequential(nn.Flatten(), nn.Linear(64, 8, bias=False), nn.ReLU(), nn.Dropout(0.1), nn.Linear(8, 3))
    model = to_chain(net, input_shape=(1, 8, 8), formats=Formats(input_frac=8, act_frac=12))
    assert [layer.kind for layer in model.spec.layers] == [LAYER_FLATTEN, LAYER_LINEAR, LAYER_RELU, LAYER_LINEAR]
    assert not model.weights[1].any()
    # The second bias is at weight_frac + act_frac = 28 bits; the first would be at 16 + 8.
    expected = np.rint(net[4].bias.detach().double().numpy() * 2.0 ** 28).astype(np.int64)
    assert model.weights[3].tolist() == expected.tolist()


@pytest.mark.parametrize("layer", [nn.Conv2d(1, 2, 3), nn.Sigmoid(), nn.Flatten(start_dim=0), nn.BatchNorm1d(4)])
def test_unsupported_layers_name_the_layer(layer):
    with pytest.raises(ModelError, match="not supported"):
        to_chain(nn.Sequential(nn.Linear(4, 4), layer), input_shape=(4,))


def test_chain_limits_surface_as_model_errors():
    with pytest.raises(ModelError, match="ShapeMismatch"):
        to_chain(nn.Sequential(nn.Linear(4, 4)), input_shape=(5,))
    with pytest.raises(ModelError, match="ModelTooLarge"):
        to_chain(nn.Sequential(nn.Linear(64, 64)), input_shape=(64,), max_params=100)
    big = nn.Linear(4, 2)
    with torch.no_grad():
        big.weight.fill_(1000.0)
    with pytest.raises(ModelError, match="declared range"):
        to_chain(nn.Sequential(big), input_shape=(4,))


def test_build_shards_commits_to_every_shard():
    from chain.scoring.shards import verify_shard_proof
    model = to_chain(nn.Sequential(nn.Linear(4, 3)), input_shape=(4,))
    X = np.linspace(-1, 1, 40).reshape(10, 4)
    shards = build_shards(X, np.arange(10) % 3, model.spec, shard_size=3)
    assert len(shards.shards) == 4 and shards.sizes == [3, 3, 3, 1]
    for i, h in enumerate(shards.hashes):
        verify_shard_proof(shards.root, len(shards.hashes), h, shards.proof(i))
