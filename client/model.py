"""Models and validation data for the chain: torch.nn.Sequential <-> spec + fixed-point weights.

    chain_model = to_chain(net, input_shape=(64,))          # quantize (round half to even)
    shards = build_shards(X_val, y_val, chain_model.spec, shard_size=500)
    shards.root                                              # commit this at registration
    local_score(chain_model, X_val, y_val)                  # exactly what validators will compute

Torch is imported here only; the scoring itself is the chain's own kernel (chain.scoring).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from chain.tx.errors import ChainError
from chain.scoring import kernel
from chain.scoring.fixedpoint import signed_range
from chain.scoring.shards import MerkleProof, encode_shard, load_shard, merkle_proof, merkle_root, shard_hash
from chain.scoring.spec import (LAYER_FLATTEN, LAYER_LINEAR, LAYER_RELU, LOSS_CROSS_ENTROPY, LOSS_MSE, SPEC_VERSION,
                                FixedPoint, Layer, ModelSpec, spec_hash, validate_spec)
from chain.scoring.weights import encode_weights, validate_weights
from client.errors import GradchainError

DEFAULT_MAX_PARAMS = 10_000_000  # the SDK's own check; the chain enforces its parameter


class ModelError(GradchainError, ValueError):
    """The model or data cannot be expressed in the chain's fixed-point spec; the message says what to change."""


@dataclass(frozen=True)
class Formats:
    """Fixed-point choices. Defaults: values at 2**-16 (measured to keep argmax agreement on digits MLPs)."""
    input_frac: int = 16
    input_bits: int = 24      # inputs in [-128, 128)
    weight_frac: int = 16
    weight_bits: int = 24     # weights in [-128, 128)
    act_frac: int = 16
    act_bits: int = 32        # activations in [-32768, 32768)
    bias_bits: int = 48
    loss: str = "cross_entropy"   # or "mse"


@dataclass(frozen=True)
class ChainModel:
    spec: ModelSpec
    weights: tuple[np.ndarray, ...]

    @property
    def spec_bytes(self) -> bytes:
        return self.spec.encode()

    @property
    def weights_bytes(self) -> bytes:
        return encode_weights(self.weights)

    @property
    def spec_hash(self) -> bytes:
        return spec_hash(self.spec)


@dataclass(frozen=True)
class ShardSet:
    shards: list[bytes]
    hashes: list[bytes]
    root: bytes
    sizes: list[int] = field(default_factory=list)

    def proof(self, index: int) -> MerkleProof:
        return merkle_proof(self.hashes, index)


def to_chain(net, input_shape, formats: Formats = Formats(), max_params: int = DEFAULT_MAX_PARAMS) -> ChainModel:
    """Convert a torch.nn.Sequential of Linear, ReLU, Flatten (and Dropout, an identity at scoring)."""
    import torch.nn as nn

    layers, arrays = [], []
    frac_in = formats.input_frac
    for i, module in enumerate(net.children() if isinstance(net, nn.Sequential) else [net]):
        if isinstance(module, nn.Linear):
            layers.append(Layer(kind=LAYER_LINEAR, in_features=module.in_features, out_features=module.out_features))
            w = module.weight.detach().cpu().double().numpy()
            b = module.bias.detach().cpu().double().numpy() if module.bias is not None else np.zeros(module.out_features)
            arrays.append(quantize(w, formats.weight_frac, formats.weight_bits, f"layer {i} weight"))
            arrays.append(quantize(b, formats.weight_frac + frac_in, formats.bias_bits, f"layer {i} bias"))
            frac_in = formats.act_frac
        elif isinstance(module, nn.ReLU):
            layers.append(Layer(kind=LAYER_RELU))
        elif isinstance(module, nn.Flatten) and module.start_dim == 1 and module.end_dim == -1:
            layers.append(Layer(kind=LAYER_FLATTEN))
        elif isinstance(module, nn.Dropout):
            continue
        else:
            raise ModelError(f"layer {i} ({module!r}) is not supported: the chain scores Linear, ReLU and "
                             f"Flatten() (start_dim=1) inside one nn.Sequential")
    if formats.loss not in ("mse", "cross_entropy"):
        raise ModelError(f"loss must be 'mse' or 'cross_entropy', got {formats.loss!r}")
    spec = ModelSpec(version=SPEC_VERSION, input_shape=tuple(int(d) for d in input_shape), layers=tuple(layers),
                     input_format=FixedPoint(formats.input_frac, formats.input_bits),
                     weight_format=FixedPoint(formats.weight_frac, formats.weight_bits),
                     activation_format=FixedPoint(formats.act_frac, formats.act_bits),
                     bias_bits=formats.bias_bits,
                     loss=LOSS_MSE if formats.loss == "mse" else LOSS_CROSS_ENTROPY)
    try:
        validate_spec(spec, max_params)
        validate_weights(spec, arrays)
    except ChainError as e:
        raise ModelError(f"the chain would reject this model: {type(e).__name__}: {e}") from None
    return ChainModel(spec=spec, weights=tuple(arrays))


def from_chain(model: ChainModel):
    """A float64 torch.nn.Sequential whose quantization is `model` (every weight exactly representable)."""
    import torch
    import torch.nn as nn

    spec = model.spec
    modules, arrays = [], iter(model.weights)
    frac_in = spec.input_format.frac_bits
    for layer in spec.layers:
        if layer.kind == LAYER_LINEAR:
            lin = nn.Linear(layer.in_features, layer.out_features, dtype=torch.float64)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(next(arrays) / 2.0 ** spec.weight_format.frac_bits))
                lin.bias.copy_(torch.from_numpy(next(arrays) / 2.0 ** (spec.weight_format.frac_bits + frac_in)))
            modules.append(lin)
            frac_in = spec.activation_format.frac_bits
        else:
            modules.append(nn.ReLU() if layer.kind == LAYER_RELU else nn.Flatten())
    return nn.Sequential(*modules)


def quantize(values, frac_bits: int, bits: int, what: str = "values") -> np.ndarray:
    """round_half_even(values * 2**frac_bits) as int64; x * 2**f is exact in float64, so np.rint rounds it
    exactly (half to even). Out-of-range values raise instead of being clipped silently."""
    x = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise ModelError(f"{what}: NaN or infinite values cannot be quantized")
    q = np.rint(np.ldexp(x, frac_bits))
    lo, hi = signed_range(bits)
    if x.size and (q.min() < lo or q.max() > hi):
        limit = 2.0 ** (bits - 1 - frac_bits)
        raise ModelError(f"{what}: values in [{x.min():.6g}, {x.max():.6g}] exceed the declared range "
                         f"[-{limit:g}, {limit:g}); raise the bit width or lower the fractional bits")
    return q.astype(np.int64)


def quantize_inputs(X, spec: ModelSpec) -> np.ndarray:
    return quantize(X, spec.input_format.frac_bits, spec.input_format.bits, "inputs")


def build_shards(X, y, spec: ModelSpec, shard_size: int) -> ShardSet:
    """Quantize (X, y), cut into shards of `shard_size` samples (the last may be smaller), hash each, and
    build the Merkle root the owner commits at registration."""
    X = quantize_inputs(X, spec)
    y = np.asarray(y, dtype=np.int64)
    if shard_size < 1 or len(X) != len(y) or len(y) == 0:
        raise ModelError("need as many labels as samples, at least one sample, and shard_size >= 1")
    shards = [encode_shard(X[i:i + shard_size], y[i:i + shard_size]) for i in range(0, len(y), shard_size)]
    hashes = [shard_hash(s) for s in shards]
    sizes = [len(y[i:i + shard_size]) for i in range(0, len(y), shard_size)]
    return ShardSet(shards=shards, hashes=hashes, root=merkle_root(hashes), sizes=sizes)


def local_score(model: ChainModel, X, y, backend: str = "numpy") -> kernel.Score:
    """The chain's own score of `model` on float inputs X (quantized here) and labels y."""
    return kernel.score(model.spec, model.weights, quantize_inputs(X, model.spec),
                        np.asarray(y, dtype=np.int64), backend=backend)


def local_score_shard(model: ChainModel, shard: bytes, max_samples: int = 1 << 20,
                      backend: str = "numpy") -> kernel.Score:
    """The chain's own score of `model` on one encoded shard."""
    inputs, labels = load_shard(shard, model.spec, max_samples)
    return kernel.score(model.spec, model.weights, inputs, labels, backend=backend)
