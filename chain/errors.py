"""Registered result codes. Part of consensus: never renumber, never reuse.

Every expected failure raises a `ChainError` subclass carrying (codespace, code).
Anything else escaping the state machine is a bug and stops the node.
"""
from __future__ import annotations

_REGISTRY: dict[tuple[str, int], type["ChainError"]] = {}


class ChainError(ValueError):
    codespace: str = ""
    code: int = 0

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if not cls.codespace or cls.code <= 0:
            return  # abstract grouping class
        key = (cls.codespace, cls.code)
        if key in _REGISTRY:
            raise RuntimeError(f"error code {key} registered twice: {_REGISTRY[key].__name__}, {cls.__name__}")
        _REGISTRY[key] = cls


def registered_codes() -> dict[tuple[str, int], str]:
    """(codespace, code) -> error name; used by docs and the client's typed errors."""
    return {k: v.__name__ for k, v in sorted(_REGISTRY.items())}


# --- codespace "tx": envelope, decoding and the ante pipeline -----------------------------
class TxDecodeError(ChainError):
    """Malformed or non-canonical tx bytes."""
    codespace, code = "tx", 1


class TxTooLarge(ChainError):
    """The tx is larger than the auth param max_tx_bytes."""
    codespace, code = "tx", 2


class WrongChainId(ChainError):
    """The tx was signed for another chain."""
    codespace, code = "tx", 3


class InvalidSignature(ChainError):
    """The signature is not 64 bytes or does not verify over the body bytes."""
    codespace, code = "tx", 4


class WrongSequence(ChainError):
    """The tx's sequence is not the signer's next sequence (replayed or skipped)."""
    codespace, code = "tx", 5


class InsufficientFee(ChainError):
    """The fee is below min_fee_base + min_fee_per_byte x tx length."""
    codespace, code = "tx", 6


class InvalidFeeDenom(ChainError):
    """The fee is not in the chain's fee denom."""
    codespace, code = "tx", 7


class EmptyTx(ChainError):
    """The tx has no messages."""
    codespace, code = "tx", 8


class TooManyMessages(ChainError):
    """More messages in one tx than allowed."""
    codespace, code = "tx", 9


class InvalidPublicKey(ChainError):
    """The signer's public key is not a 32-byte Ed25519 key."""
    codespace, code = "tx", 10


class UnknownMessage(ChainError):
    """No handler for this message type."""
    codespace, code = "tx", 11


class CannotPayFee(ChainError):
    """The signer's balance is below the fee."""
    codespace, code = "tx", 12


# --- codespace "bank" -------------------------------------------------------------------------
class InsufficientFunds(ChainError):
    """The sender's balance is below the amount."""
    codespace, code = "bank", 1


class InvalidAmount(ChainError):
    """An amount is zero, negative, non-canonical or above 2**256-1."""
    codespace, code = "bank", 2


class InvalidDenom(ChainError):
    """A denom is malformed, or a coin list is not sorted by denom."""
    codespace, code = "bank", 3


class SupplyOverflow(ChainError):
    """Total supply of a denom would exceed 2**256-1."""
    codespace, code = "bank", 4


class InvalidAddress(ChainError):
    """An address is not 20 bytes (or bad bech32)."""
    codespace, code = "bank", 5


class DuplicateDenom(ChainError):
    """The same denom appears twice in one coin list."""
    codespace, code = "bank", 6


class TooManyCoins(ChainError):
    """A coin list is empty or has too many denoms."""
    codespace, code = "bank", 7


# --- codespace "genesis" ----------------------------------------------------------------------
class InvalidGenesis(ChainError):
    """The genesis app_state is malformed."""
    codespace, code = "genesis", 1


# --- codespace "query" ------------------------------------------------------------------------
class UnknownQuery(ChainError):
    """No such query path."""
    codespace, code = "query", 1


class InvalidQuery(ChainError):
    """The query data is malformed."""
    codespace, code = "query", 2


class HeightNotAvailable(ChainError):
    """The state at that height is not kept."""
    codespace, code = "query", 3


# --- codespace "validators" -------------------------------------------------------------------
class ValidatorExists(ChainError):
    """The signer already operates a validator, or the consensus key is already registered."""
    codespace, code = "validators", 1


class UnknownValidator(ChainError):
    """The signer operates no active validator."""
    codespace, code = "validators", 2


class BondTooSmall(ChainError):
    """The bond is below the minimum self-bond, or gives zero voting power."""
    codespace, code = "validators", 3


class WrongBondDenom(ChainError):
    """Bonds are paid in the chain's bond denom."""
    codespace, code = "validators", 4


class LastValidator(ChainError):
    """Leaving would leave the chain with no voting power."""
    codespace, code = "validators", 5


class TooManyValidators(ChainError):
    """The active set is full (max_validators)."""
    codespace, code = "validators", 6


class InvalidEncryptionKey(ChainError):
    """The X25519 encryption key is a low-order point (any exchange with it gives an all-zero shared secret), so the key cannot hold sealed-update shares (docs/sealing.md 14.8)."""
    codespace, code = "validators", 7


# --- codespace "scoring": model specs, weights, validation shards -----------------------------
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


# --- codespace "bridge": EVM bridge claims, withdrawals, batch and valset confirmations ---------
class BridgeNotConfigured(ChainError):
    """This chain has no bridge (no `bridge` section in its genesis)."""
    codespace, code = "bridge", 1


class WrongEvmChain(ChainError):
    """The message names an EVM chain id other than the bridge's."""
    codespace, code = "bridge", 2


class NotBridgeValidator(ChainError):
    """Only an active validator's operator may send this bridge message."""
    codespace, code = "bridge", 3


class EvmAddressAlreadySet(ChainError):
    """This validator already registered its EVM address (it cannot be changed)."""
    codespace, code = "bridge", 4


class EvmAddressTaken(ChainError):
    """Another validator registered that EVM address."""
    codespace, code = "bridge", 5


class InvalidEvmSignature(ChainError):
    """An EVM signature is malformed, non-canonical, or not by the expected EVM address."""
    codespace, code = "bridge", 6


class NonceAlreadyObserved(ChainError):
    """The claim's event nonce was already attested: replayed or stale claim."""
    codespace, code = "bridge", 7


class NonceTooFarAhead(ChainError):
    """The claim's event nonce is further ahead of the next expected nonce than the bridge allows."""
    codespace, code = "bridge", 8


class DuplicateClaim(ChainError):
    """This validator already made this claim."""
    codespace, code = "bridge", 9


class ConflictingClaim(ChainError):
    """This validator already claimed different content for the same event nonce."""
    codespace, code = "bridge", 10


class UnknownBridgeDenom(ChainError):
    """No voucher denom for that token: nothing of it was ever deposited."""
    codespace, code = "bridge", 11


class UnknownBatch(ChainError):
    """No pending batch with that nonce (never created, executed, or cancelled)."""
    codespace, code = "bridge", 12


class UnknownValset(ChainError):
    """No valset awaiting signatures with that nonce."""
    codespace, code = "bridge", 13


class NoEvmAddress(ChainError):
    """The validator has not registered an EVM address."""
    codespace, code = "bridge", 14


class NotInSigningSet(ChainError):
    """The validator's EVM address is not in the valset that must sign this batch or valset."""
    codespace, code = "bridge", 15


class DuplicateConfirm(ChainError):
    """This validator already confirmed this batch or valset."""
    codespace, code = "bridge", 16


class WithdrawalNotCancellable(ChainError):
    """No queued withdrawal with that id from this sender (unknown, someone else's, or already batched)."""
    codespace, code = "bridge", 17


class InvalidEvmAddress(ChainError):
    """An EVM address is not 20 bytes, or is the zero address."""
    codespace, code = "bridge", 18


class InvalidClaim(ChainError):
    """A claim is malformed: zero nonce, missing field or bad amount."""
    codespace, code = "bridge", 19


# --- codespace "registry": models, weight uploads, bounty escrows, shard reveals ------------------
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
    """An active model can be closed only from its expiry height on."""
    codespace, code = "registry", 18


class UnknownVersion(ChainError):
    """The model has no version with that number (or its weights are not complete yet)."""
    codespace, code = "registry", 19


# --- codespace "sealing": sealed updates, key shares, threshold reconstruction (docs/sealing.md) ---
class MalformedEnvelope(ChainError):
    """The sealed envelope is not in its one canonical form or breaks a structural rule (lengths, order, version, low-order ephemeral key)."""
    codespace, code = "sealing", 1


class EnvelopeTooLarge(ChainError):
    """The sealed envelope, or its ciphertext, is larger than the size bound."""
    codespace, code = "sealing", 2


class ContextMismatch(ChainError):
    """The update was sealed for another chain, model, round or submitter: a copied ciphertext opens for nobody else."""
    codespace, code = "sealing", 3


class InvalidSealingSet(ChainError):
    """A sealing validator set is empty or too large, repeats an index, has a zero power or a bad X25519 key, or its share rounding would let one third of the power rebuild keys."""
    codespace, code = "sealing", 4


class ValidatorSetMismatch(ChainError):
    """The envelope was sealed to another validator set or share plan (set hash, share counts or threshold differ)."""
    codespace, code = "sealing", 5


class ShareDecryptionFailed(ChainError):
    """A validator's encrypted key share does not decrypt under its X25519 key (sealed to another key or corrupted)."""
    codespace, code = "sealing", 6


class ShareMismatch(ChainError):
    """A released key share does not match the envelope's commitment for that validator (wrong length, bytes or field element)."""
    codespace, code = "sealing", 7


class NotEnoughShares(ChainError):
    """Valid released shares are below the threshold: validators with at least 2/3 of the sealing set's power have not released yet."""
    codespace, code = "sealing", 8


class KeyCommitmentMismatch(ChainError):
    """The key rebuilt from the deterministic share subset does not match the envelope's key commitment: the update's key is invalid."""
    codespace, code = "sealing", 9


class PayloadDecryptionFailed(ChainError):
    """The sealed payload does not authenticate under the committed key and its associated data (tampered ciphertext or header)."""
    codespace, code = "sealing", 10


class PlaintextCommitmentMismatch(ChainError):
    """The decrypted update does not match the envelope's plaintext commitment."""
    codespace, code = "sealing", 11


# --- codespace "rounds": sealed update submissions per round (docs/rounds.md) ---
class RoundNotOpen(ChainError):
    """The round is not taking submissions at this height (before its window opens or after it closed)."""
    codespace, code = "rounds", 1


class UnknownParent(ChainError):
    """The update names a parent version the model does not have."""
    codespace, code = "rounds", 2


class StaleParent(ChainError):
    """The update's parent is neither the model's head nor the head when the round took its first submission."""
    codespace, code = "rounds", 3


class RoundFull(ChainError):
    """The round already holds max_submissions_per_round submissions."""
    codespace, code = "rounds", 4


class DuplicateSubmission(ChainError):
    """That exact envelope was already submitted in this round."""
    codespace, code = "rounds", 5


class UnknownSubmission(ChainError):
    """No submission with that model, round and sequence number."""
    codespace, code = "rounds", 6


class UpdateDecodeError(ChainError):
    """The opened update is not a canonical Weights message of int32/int64 tensors (the delta format)."""
    codespace, code = "rounds", 7


class UpdateShapeMismatch(ChainError):
    """The opened update's delta tensors do not have the parent version's count and shapes."""
    codespace, code = "rounds", 8


class UpdateOutOfRange(ChainError):
    """Parent + delta leaves the spec's weight or bias range (no clipping: the update is invalid)."""
    codespace, code = "rounds", 9


class CopiedUpdate(ChainError):
    """The opened update's plaintext equals an update of this model opened earlier: the first keeps the credit."""
    codespace, code = "rounds", 10
