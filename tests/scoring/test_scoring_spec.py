"""Spec, weight and shard bytes: one canonical form each, and every bad input gets its registered code."""
import dataclasses

import numpy as np
import pytest

import chain.scoring.errors as errors
from chain.scoring.shards import encode_shard, load_shard
from chain.scoring.spec import FixedPoint, Layer, ModelSpec, load_spec, spec_hash
from chain.scoring.tensor import DTYPE_INT64, Tensor, tensor_from_array
from chain.scoring.weights import Weights, encode_weights, load_weights
from chain.tx.wire import encode_varint

MAX_PARAMS = 1_000_000

SPEC = ModelSpec(version=1, input_shape=(1, 8, 8),
                 layers=(Layer(3), Layer(1, 64, 32), Layer(2), Layer(1, 32, 10)),
                 input_format=FixedPoint(16, 24), weight_format=FixedPoint(16, 24),
                 activation_format=FixedPoint(16, 32), bias_bits=48, loss=2)


def weights_for(spec, value=1):
    out = []
    for layer in spec.layers:
        if layer.kind == 1:
            out += [np.full((layer.out_features, layer.in_features), value, np.int64),
                    np.zeros(layer.out_features, np.int64)]
    return out


def code(exc_info):
    return exc_info.value.codespace, exc_info.value.code


def test_round_trip_and_hash():
    raw = SPEC.encode()
    assert load_spec(raw, MAX_PARAMS) == SPEC
    assert load_spec(raw, MAX_PARAMS).encode() == raw
    assert len(spec_hash(SPEC)) == 32 and spec_hash(SPEC) != spec_hash(dataclasses.replace(SPEC, loss=1))
    w = weights_for(SPEC, value=-3)
    got = load_weights(encode_weights(w), SPEC)
    assert all(np.array_equal(a, b) and a.dtype == np.int64 for a, b in zip(got, w))


def test_supports_a_million_parameters():
    big = dataclasses.replace(SPEC, input_shape=(1000,), layers=(Layer(1, 1000, 990), Layer(2), Layer(1, 990, 10)))
    params = 1000 * 990 + 990 + 990 * 10 + 10
    assert params > 1_000_000
    load_spec(big.encode(), max_params=params)
    with pytest.raises(errors.ModelTooLarge):
        load_spec(big.encode(), max_params=params - 1)


@pytest.mark.parametrize("change, error", [
    (dict(version=2), errors.UnsupportedSpecVersion),
    (dict(version=0), errors.UnsupportedSpecVersion),
    (dict(loss=3), errors.UnsupportedLoss),
    (dict(layers=(Layer(3), Layer(7), Layer(1, 64, 10))), errors.UnsupportedLayer),      # e.g. a conv kind
    (dict(layers=(Layer(3), Layer(2))), errors.UnsupportedLayer),                         # no linear layer
    (dict(layers=(Layer(3), Layer(1, 64, 32), Layer(1, 31, 10))), errors.ShapeMismatch),  # 32 -> 31
    (dict(layers=(Layer(1, 64, 10),)), errors.ShapeMismatch),                            # (1, 8, 8) needs flatten
    (dict(layers=(Layer(3), Layer(1, 64, 0))), errors.ShapeMismatch),
    (dict(layers=(Layer(3), Layer(2, 4, 4), Layer(1, 64, 10))), errors.ShapeMismatch),   # relu with sizes
    (dict(input_shape=()), errors.ShapeMismatch),
    (dict(input_shape=(1, 1, 1, 1, 64)), errors.ShapeMismatch),
    (dict(layers=(Layer(3),) + (Layer(2),) * 64 + (Layer(1, 64, 10),)), errors.ModelTooLarge),
    (dict(layers=(Layer(3), Layer(1, 64, 20000), Layer(1, 20000, 10))), errors.ModelTooLarge),
    (dict(input_shape=(1 << 25,), layers=(Layer(1, 1 << 25, 1),)), errors.ModelTooLarge),  # too wide for any limit
    (dict(weight_format=None), errors.InvalidFixedPoint),
    (dict(weight_format=FixedPoint(33, 24)), errors.InvalidFixedPoint),
    (dict(activation_format=FixedPoint(16, 33)), errors.InvalidFixedPoint),
    (dict(input_format=FixedPoint(0, 1)), errors.InvalidFixedPoint),
    (dict(bias_bits=63), errors.InvalidFixedPoint),
    (dict(activation_format=FixedPoint(20, 32), weight_format=FixedPoint(4, 24), input_format=FixedPoint(8, 24)),
     errors.InvalidFixedPoint),
    (dict(activation_format=FixedPoint(1, 32), weight_format=FixedPoint(32, 32), input_format=FixedPoint(32, 24)),
     errors.InvalidFixedPoint),  # a 63-bit shift
])
def test_invalid_specs(change, error):
    with pytest.raises(error) as e:
        load_spec(dataclasses.replace(SPEC, **change).encode(), MAX_PARAMS)
    assert code(e)[0] == "scoring"


def non_canonical_specs():
    raw = SPEC.encode()
    yield raw + b"\x00"                              # trailing junk
    yield raw[:-1]                                   # truncated
    yield b"\x08\x00" + raw[2:]                      # version 0 written out: an explicit default
    yield b"\x08\x81\x00" + raw[2:]                  # padded varint for version 1
    yield raw + encode_varint(9 << 3) + b"\x01"      # unknown field 9
    yield raw[2:] + raw[:2]                          # version moved after the other fields
    yield b"\x0a\x01\x01" + raw[2:]                  # version with the wrong wire type
    yield b"\x12\x01\x01" + raw[2:]                  # packed repeated input_shape (non-canonical here)
    yield b"\x00" * (4097)                           # over the size limit


@pytest.mark.parametrize("raw", list(non_canonical_specs()))
def test_malformed_and_non_canonical_spec_bytes(raw):
    with pytest.raises(errors.SpecDecodeError):
        load_spec(raw, MAX_PARAMS)


def test_weight_shapes_ranges_and_encoding():
    w = weights_for(SPEC)
    with pytest.raises(errors.ShapeMismatch):
        load_weights(encode_weights(w[:-1]), SPEC)
    with pytest.raises(errors.ShapeMismatch):
        load_weights(encode_weights([w[0].T] + w[1:]), SPEC)
    too_big = [a.copy() for a in w]
    too_big[2][0, 0] = 1 << 23   # 24-bit weights stop at 2**23 - 1
    with pytest.raises(errors.WeightOutOfRange):
        load_weights(encode_weights(too_big), SPEC)
    too_big = [a.copy() for a in w]
    too_big[3][0] = -(1 << 47) - 1
    with pytest.raises(errors.WeightOutOfRange):
        load_weights(encode_weights(too_big), SPEC)


def bad_tensors():
    good = tensor_from_array(np.arange(6).reshape(2, 3))
    yield dataclasses.replace(good, dtype=3)                               # unknown dtype
    yield dataclasses.replace(good, data=good.data[:-1])                   # short data
    yield dataclasses.replace(good, shape=(2, 0))                          # empty dimension
    yield dataclasses.replace(good, shape=(1,) * 6, data=good.data[:4])    # rank 6
    yield Tensor(dtype=DTYPE_INT64, shape=(2, 3), data=np.arange(6, dtype="<i8").tobytes())  # int64 not needed


@pytest.mark.parametrize("tensor", list(bad_tensors()))
def test_non_canonical_tensors(tensor):
    w = [tensor_from_array(a) for a in weights_for(SPEC)]
    w[1] = tensor
    with pytest.raises(errors.WeightsDecodeError):
        load_weights(Weights(tensors=tuple(w)).encode(), SPEC)


def test_tensor_picks_the_narrowest_dtype():
    assert tensor_from_array(np.array([1, -(1 << 31)])).dtype == 1
    assert tensor_from_array(np.array([1 << 31])).dtype == DTYPE_INT64


def test_shard_checks():
    inputs = np.zeros((5, 1, 8, 8), np.int64)
    labels = np.arange(5)
    x, y = load_shard(encode_shard(inputs, labels), SPEC, max_samples=5)
    assert x.shape == (5, 1, 8, 8) and y.tolist() == list(range(5))
    with pytest.raises(errors.ShardTooLarge):
        load_shard(encode_shard(inputs, labels), SPEC, max_samples=4)
    with pytest.raises(errors.InvalidShard):
        load_shard(encode_shard(inputs, labels + 6), SPEC, 5)                 # label 10 of 10 classes
    with pytest.raises(errors.InvalidShard):
        load_shard(encode_shard(inputs, -labels - 1), SPEC, 5)
    with pytest.raises(errors.InvalidShard):
        load_shard(encode_shard(inputs.reshape(5, 64), labels), SPEC, 5)       # wrong input shape
    with pytest.raises(errors.InvalidShard):
        load_shard(encode_shard(inputs[:4], labels), SPEC, 5)                 # counts differ
    with pytest.raises(errors.InvalidShard):
        load_shard(encode_shard(inputs + (1 << 23), labels), SPEC, 5)          # beyond 24-bit inputs
    raw = encode_shard(inputs, labels)
    inp, lab = tensor_from_array(inputs).encode(), tensor_from_array(labels).encode()
    swapped = b"\x12" + encode_varint(len(lab)) + lab + b"\x0a" + encode_varint(len(inp)) + inp
    assert b"\x0a" + encode_varint(len(inp)) + inp + b"\x12" + encode_varint(len(lab)) + lab == raw
    for bad in (raw + b"\x00", raw[:-3], swapped, b"", b"\x0a\x00"):
        with pytest.raises(errors.ShardDecodeError):
            load_shard(bad, SPEC, 5)
