"""Result codes of codespace "registry" (registry module). Part of consensus: never renumber, never reuse."""
from __future__ import annotations

from chain.tx.errors import ChainError


class UnknownModel(ChainError):
    """No model with that id (ids start at 1)."""
    codespace, code = "registry", 1


class NotModelOwner(ChainError):
    """Only the model's owner may upload its weights, reveal its shards or close it."""
    codespace, code = "registry", 2


class InvalidRewardCurve(ChainError):
    """The reward curve must run from (0, 0) to (10000, 10000) bps, progress strictly increasing, payout non-decreasing."""
    codespace, code = "registry", 3


class InvalidModelTerms(ChainError):
    """A registration term is malformed or out of range: hash or root length, weights size, shard count, round or reveal length, metric, target, expiry."""
    codespace, code = "registry", 4


class WrongEscrowDenom(ChainError):
    """Bonds and deposits are in the native denom; funding must be in the model's bounty denom."""
    codespace, code = "registry", 5


class ModelNotUploading(ChainError):
    """The model's weights are already complete: no more chunks are accepted."""
    codespace, code = "registry", 6


class ModelNotActive(ChainError):
    """The model is still uploading its initial weights: it has no rounds yet."""
    codespace, code = "registry", 7


class ModelClosed(ChainError):
    """The model is closed: its escrow and bond were returned."""
    codespace, code = "registry", 8


class ChunkOutOfRange(ChainError):
    """The chunk index is not below the model's chunk count (weights_size / chunk size, rounded up)."""
    codespace, code = "registry", 9


class DuplicateChunk(ChainError):
    """A chunk with this index is already stored."""
    codespace, code = "registry", 10


class ChunkTooLarge(ChainError):
    """The chunk is larger than the model's chunk size (the param max_chunk_bytes at registration)."""
    codespace, code = "registry", 11


class WrongChunkSize(ChainError):
    """Every chunk but the last holds exactly the chunk size; the last holds the rest of weights_size."""
    codespace, code = "registry", 12


class WeightsHashMismatch(ChainError):
    """The uploaded weights do not hash to the registered weights_hash; the stored chunks were deleted."""
    codespace, code = "registry", 13


class RevealTooEarly(ChainError):
    """The round's submissions have not closed yet (height < round end)."""
    codespace, code = "registry", 14


class RevealTooLate(ChainError):
    """The round's reveal window (reveal_blocks after its end) has passed."""
    codespace, code = "registry", 15


class ShardAlreadyRevealed(ChainError):
    """That shard index was already revealed (each shard is revealed at most once)."""
    codespace, code = "registry", 16


class RoundAlreadyRevealed(ChainError):
    """A shard was already revealed for that round (one shard per round)."""
    codespace, code = "registry", 17


class ModelNotExpired(ChainError):
    """An active model can be closed before its expiry height only when none of its rounds is in flight."""
    codespace, code = "registry", 18


class UnknownVersion(ChainError):
    """The model has no version with that number (or its weights are not complete yet)."""
    codespace, code = "registry", 19


class TooManyOpenModels(ChainError):
    """The owner already holds max_open_models_per_owner open (uploading or active) models; close one first."""
    codespace, code = "registry", 20
