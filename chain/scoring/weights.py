"""A model version's parameters: one weight and one bias tensor per Linear layer, in layer order.

    message Weights { repeated Tensor tensors = 1; }

Linear layer i contributes tensors[2i] = weight, shape (out, in) (torch's layout), at the weight
format's scale, and tensors[2i+1] = bias, shape (out,), at the layer's accumulator scale.
"""
from __future__ import annotations

import numpy as np

from chain.scoring.errors import ShapeMismatch, WeightOutOfRange, WeightsDecodeError
from chain.scoring.fixedpoint import signed_range
from chain.scoring.spec import ModelSpec, linear_layers
from chain.scoring.tensor import Tensor, array_from_tensor, decode_message, tensor_from_array
from chain.tx.wire import Field, Message, message


@message
class Weights(Message):
    tensors: tuple[Tensor, ...] = ()
    SCHEMA = (Field(1, "tensors", "message", Tensor, repeated=True),)


def encode_weights(arrays) -> bytes:
    return Weights(tensors=tuple(tensor_from_array(a) for a in arrays)).encode()


def load_weights(raw: bytes, spec: ModelSpec) -> tuple[np.ndarray, ...]:
    """Decode weight bytes for a validated spec and check their shapes and ranges."""
    weights = decode_message(Weights, raw, WeightsDecodeError)
    arrays = tuple(array_from_tensor(t, WeightsDecodeError) for t in weights.tensors)
    validate_weights(spec, arrays)
    return arrays


def validate_weights(spec: ModelSpec, arrays) -> None:
    layers = linear_layers(spec)
    if len(arrays) != 2 * len(layers):
        raise ShapeMismatch(f"expected {2 * len(layers)} tensors (weight and bias per linear layer), got {len(arrays)}")
    w_lo, w_hi = signed_range(spec.weight_format.bits)
    b_lo, b_hi = signed_range(spec.bias_bits)
    for i, layer in enumerate(layers):
        w, b = arrays[2 * i], arrays[2 * i + 1]
        if w.shape != (layer.out_features, layer.in_features) or b.shape != (layer.out_features,):
            raise ShapeMismatch(f"linear {i}: weight {w.shape} and bias {b.shape} must be "
                                f"({layer.out_features}, {layer.in_features}) and ({layer.out_features},)")
        if w.dtype != np.int64 or b.dtype != np.int64:
            raise WeightsDecodeError(f"linear {i}: tensors must be int64 arrays")
        if int(w.min()) < w_lo or int(w.max()) > w_hi:
            raise WeightOutOfRange(f"linear {i}: weights must lie in [{w_lo}, {w_hi}] "
                                   f"({spec.weight_format.bits}-bit), got [{int(w.min())}, {int(w.max())}]")
        if int(b.min()) < b_lo or int(b.max()) > b_hi:
            raise WeightOutOfRange(f"linear {i}: biases must lie in [{b_lo}, {b_hi}] ({spec.bias_bits}-bit)")
