"""The model spec: what a model is, as data, never as code.

    message Layer      { uint64 kind = 1; uint64 in_features = 2; uint64 out_features = 3; }
    message FixedPoint { uint64 frac_bits = 1; uint64 bits = 2; }
    message ModelSpec  { uint64 version = 1; repeated uint64 input_shape = 2 [packed = false];
                         repeated Layer layers = 3; FixedPoint input_format = 4;
                         FixedPoint weight_format = 5; FixedPoint activation_format = 6;
                         uint64 bias_bits = 7; uint64 loss = 8; }

Every scalar in a spec is non-negative, so every integer is a plain uint64 (no zigzag, no offset);
signed values (weights, inputs) live only inside tensors, as two's complement (see tensor.py).
A FixedPoint(frac_bits=f, bits=b) value x means x / 2**f with x in [-2**(b-1), 2**(b-1) - 1].
Biases are stored at their layer's accumulator scale (weight frac + the layer input's frac) with
`bias_bits` of range, so adding them needs no rounding.

`version` selects the rules that turn these numbers into scores: version 1 is Linear/ReLU/Flatten,
round-half-even requantization, and the metric tables whose hash is `tables.TABLES_SHA256`.
"""
from __future__ import annotations

import hashlib

from chain.scoring.errors import (InvalidFixedPoint, ModelTooLarge, ShapeMismatch, SpecDecodeError,
                                  UnsupportedLayer, UnsupportedLoss, UnsupportedSpecVersion)
from chain.scoring.tensor import decode_message
from chain.tx.wire import Field, Message, message

SPEC_VERSION = 1
SUPPORTED_VERSIONS = (1,)

LAYER_LINEAR, LAYER_RELU, LAYER_FLATTEN = 1, 2, 3
LAYER_NAMES = {LAYER_LINEAR: "linear", LAYER_RELU: "relu", LAYER_FLATTEN: "flatten"}
LOSS_MSE, LOSS_CROSS_ENTROPY = 1, 2
LOSS_NAMES = {LOSS_MSE: "mse", LOSS_CROSS_ENTROPY: "cross_entropy"}

MAX_SPEC_BYTES = 4096
MAX_LAYERS = 64
MAX_INPUT_RANK = 4
# Values up to 32 bits wide keep every stored tensor, activation and metric term inside int64; only
# matmul accumulators can grow past it, and the kernel handles those exactly (kernel.py).
MAX_FRAC_BITS = 32
MAX_VALUE_BITS = 32
MAX_BIAS_BITS = 62
MAX_SHIFT = 62
# Per-layer width cap: keeps class sums in the cross-entropy tables and limb sizes in matmul.py far from int64.
MAX_FEATURES = 1 << 24


@message
class Layer(Message):
    kind: int = 0
    in_features: int = 0
    out_features: int = 0
    SCHEMA = (Field(1, "kind", "uint64"), Field(2, "in_features", "uint64"), Field(3, "out_features", "uint64"))


@message
class FixedPoint(Message):
    frac_bits: int = 0
    bits: int = 0
    SCHEMA = (Field(1, "frac_bits", "uint64"), Field(2, "bits", "uint64"))


@message
class ModelSpec(Message):
    version: int = 0
    input_shape: tuple[int, ...] = ()
    layers: tuple[Layer, ...] = ()
    input_format: FixedPoint | None = None
    weight_format: FixedPoint | None = None
    activation_format: FixedPoint | None = None
    bias_bits: int = 0
    loss: int = 0
    SCHEMA = (Field(1, "version", "uint64"), Field(2, "input_shape", "uint64", repeated=True),
              Field(3, "layers", "message", Layer, repeated=True),
              Field(4, "input_format", "message", FixedPoint), Field(5, "weight_format", "message", FixedPoint),
              Field(6, "activation_format", "message", FixedPoint), Field(7, "bias_bits", "uint64"),
              Field(8, "loss", "uint64"))


def spec_hash(spec: ModelSpec) -> bytes:
    """SHA-256 of the canonical bytes; decoding is canonical, so this equals the hash of the raw bytes."""
    return hashlib.sha256(spec.encode()).digest()


def load_spec(raw: bytes, max_params: int) -> ModelSpec:
    """Decode and validate spec bytes from a tx."""
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecDecodeError(f"spec is {len(raw)} bytes, at most {MAX_SPEC_BYTES}")
    spec = decode_message(ModelSpec, raw, SpecDecodeError)
    validate_spec(spec, max_params)
    return spec


def validate_spec(spec: ModelSpec, max_params: int) -> None:
    if spec.version not in SUPPORTED_VERSIONS:
        raise UnsupportedSpecVersion(f"spec version {spec.version} is not supported (supported: {SUPPORTED_VERSIONS})")
    if spec.loss not in LOSS_NAMES:
        raise UnsupportedLoss(f"loss {spec.loss} is not supported (1 = mse, 2 = cross_entropy)")
    _validate_formats(spec)
    if not 1 <= len(spec.layers) <= MAX_LAYERS:
        raise ModelTooLarge(f"a model has 1..{MAX_LAYERS} layers, got {len(spec.layers)}")
    layer_shapes(spec)  # raises on unsupported layers and shape mismatches
    params = count_params(spec)
    if params > max_params:
        raise ModelTooLarge(f"model has {params} parameters, the limit is {max_params}")


def _validate_formats(spec: ModelSpec) -> None:
    for name in ("input_format", "weight_format", "activation_format"):
        fmt = getattr(spec, name)
        if fmt is None:
            raise InvalidFixedPoint(f"{name} is missing")
        if fmt.frac_bits > MAX_FRAC_BITS or not 2 <= fmt.bits <= MAX_VALUE_BITS:
            raise InvalidFixedPoint(f"{name}: frac_bits must be <= {MAX_FRAC_BITS} and bits in 2..{MAX_VALUE_BITS}, "
                                    f"got frac_bits={fmt.frac_bits} bits={fmt.bits}")
    if not 2 <= spec.bias_bits <= MAX_BIAS_BITS:
        raise InvalidFixedPoint(f"bias_bits must be in 2..{MAX_BIAS_BITS}, got {spec.bias_bits}")
    # Requantization only shifts right, by less than 63 (int64 shifts stay defined); the first Linear's
    # accumulator has weight + input frac bits, later ones weight + activation frac bits.
    first_shift = spec.weight_format.frac_bits + spec.input_format.frac_bits - spec.activation_format.frac_bits
    if not 0 <= first_shift <= MAX_SHIFT:
        raise InvalidFixedPoint(f"weight frac_bits + input frac_bits - activation frac_bits must be in 0..{MAX_SHIFT}, "
                                f"got {first_shift}")


def layer_shapes(spec: ModelSpec) -> list[tuple[int, ...]]:
    """The per-sample shape before the first layer and after each layer; raises on any mismatch."""
    if not 1 <= len(spec.input_shape) <= MAX_INPUT_RANK or any(d < 1 for d in spec.input_shape):
        raise ShapeMismatch(f"input_shape {spec.input_shape} must have rank 1..{MAX_INPUT_RANK}, dimensions >= 1")
    shape = tuple(spec.input_shape)
    shapes = [shape]
    for i, layer in enumerate(spec.layers):
        if layer.kind not in LAYER_NAMES:
            raise UnsupportedLayer(f"layer {i}: kind {layer.kind} is not supported (1 = linear, 2 = relu, 3 = flatten)")
        if layer.kind == LAYER_LINEAR:
            if len(shape) != 1 or layer.in_features != shape[0]:
                raise ShapeMismatch(f"layer {i}: linear expects {layer.in_features} features, gets shape {shape}"
                                    + (" (add a flatten layer first)" if len(shape) != 1 else ""))
            if layer.out_features < 1:
                raise ShapeMismatch(f"layer {i}: linear needs out_features >= 1")
            if max(layer.in_features, layer.out_features) > MAX_FEATURES:
                raise ModelTooLarge(f"layer {i}: at most {MAX_FEATURES} features per layer")
            shape = (layer.out_features,)
        else:
            if layer.in_features or layer.out_features:
                raise ShapeMismatch(f"layer {i}: {LAYER_NAMES[layer.kind]} takes no in/out features")
            if layer.kind == LAYER_FLATTEN:
                shape = (_product(shape),)
        shapes.append(shape)
    if not any(layer.kind == LAYER_LINEAR for layer in spec.layers):
        raise UnsupportedLayer("a model needs at least one linear layer")
    if len(shape) != 1:
        raise ShapeMismatch(f"the model's output must be a vector of class scores, got shape {shape}")
    return shapes


def count_params(spec: ModelSpec) -> int:
    return sum(layer.in_features * layer.out_features + layer.out_features
               for layer in spec.layers if layer.kind == LAYER_LINEAR)


def linear_layers(spec: ModelSpec) -> list[Layer]:
    return [layer for layer in spec.layers if layer.kind == LAYER_LINEAR]


def num_classes(spec: ModelSpec) -> int:
    return linear_layers(spec)[-1].out_features


def _product(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n
