"""Result codes of codespace "scoring" (scoring module). Part of consensus: never renumber, never reuse."""
from __future__ import annotations

from chain.tx.errors import ChainError


class SpecDecodeError(ChainError):
    """The model spec bytes are malformed or not in their one canonical form."""
    codespace, code = "scoring", 1


class UnsupportedSpecVersion(ChainError):
    """The model spec names a spec version this chain does not score."""
    codespace, code = "scoring", 2


class UnsupportedLayer(ChainError):
    """The model spec uses a layer kind the scoring kernel does not implement."""
    codespace, code = "scoring", 3


class ShapeMismatch(ChainError):
    """A layer's input size differs from the previous layer's output, or a tensor has the wrong shape."""
    codespace, code = "scoring", 4


class InvalidFixedPoint(ChainError):
    """A fixed-point format (fractional bits, bit width) is outside the allowed range."""
    codespace, code = "scoring", 5


class UnsupportedLoss(ChainError):
    """The model spec names a loss this chain does not compute."""
    codespace, code = "scoring", 6


class ModelTooLarge(ChainError):
    """The model has more parameters (or layers) than the chain's limit."""
    codespace, code = "scoring", 7


class WeightsDecodeError(ChainError):
    """The weight tensors are malformed or not in their one canonical form."""
    codespace, code = "scoring", 8


class WeightOutOfRange(ChainError):
    """A weight or bias lies outside the range its declared bit width allows."""
    codespace, code = "scoring", 9


class ShardDecodeError(ChainError):
    """The validation shard bytes are malformed or not in their one canonical form."""
    codespace, code = "scoring", 10


class InvalidShard(ChainError):
    """The shard does not fit the model: input shape, input range or a label out of range."""
    codespace, code = "scoring", 11


class ShardTooLarge(ChainError):
    """The shard holds more samples than the chain's limit."""
    codespace, code = "scoring", 12


class InvalidMerkleProof(ChainError):
    """A shard's inclusion proof is malformed or does not lead to the committed root."""
    codespace, code = "scoring", 13
