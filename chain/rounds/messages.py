"""rounds messages: revealing a round's shard and closing a model (Msg fields 23-24, numbered when the
registry owned them), submitting a sealed update and proving that validators withheld its shares (Msg
fields 40-59), and aggregate mode's join and masked update (fields 42-43)."""
from __future__ import annotations

from chain.registry.messages import validate_model_id
from chain.scoring.errors import ShardDecodeError
from chain.sealing.errors import KeyCommitmentMismatch, MalformedEnvelope
from chain.secagg.errors import SecaggError
from chain.secagg.masks import MAX_MASKED_BYTES
from chain.tx.wire import Field, Message, message


@message
class MsgRevealShard(Message):
    """The owner reveals the validation shard of a closed round, with its Merkle proof (docs/registry.md)."""
    model_id: int = 0
    round: int = 0
    shard: bytes = b""        # canonical Shard bytes
    shard_index: int = 0
    proof: bytes = b""        # canonical MerkleProof bytes (chain.scoring.shards); its index is shard_index
    SCHEMA = (Field(1, "model_id", "uint64"), Field(2, "round", "uint64"), Field(3, "shard", "bytes"),
              Field(4, "shard_index", "uint64"), Field(5, "proof", "bytes"))

    def validate_basic(self) -> None:
        validate_model_id(self.model_id)
        if not self.shard:
            raise ShardDecodeError("shard is required")


@message
class MsgCloseModel(Message):
    """The owner closes a model from its expiry height on (or any time while uploading): the unspent
    escrow and the bond return to the owner."""
    model_id: int = 0
    SCHEMA = (Field(1, "model_id", "uint64"),)

    def validate_basic(self) -> None:
        validate_model_id(self.model_id)


@message
class MsgSubmitUpdate(Message):
    """A trainer submits a sealed update (docs/sealing.md envelope) for round `round` of a model, trained
    from version `parent_version`; the model's per-update deposit is escrowed (docs/rounds.md)."""
    model_id: int = 0
    round: int = 0
    parent_version: int = 0
    envelope: bytes = b""     # canonical SealedUpdate bytes, sealed to the round's sealing set
    SCHEMA = (Field(1, "model_id", "uint64"), Field(2, "round", "uint64"), Field(3, "parent_version", "uint64"),
              Field(4, "envelope", "bytes"))

    def validate_basic(self) -> None:
        validate_model_id(self.model_id)
        if not self.envelope:
            raise MalformedEnvelope("envelope is required")


@message
class MsgProveWithholding(Message):
    """After a share shortfall voided submission (model_id, round, seq) at its release deadline, anyone with
    its data key (the trainer) shows it: the chain checks every sealing-set member's encrypted shares and
    penalises the members that could decrypt theirs but never released them (docs/rounds.md,
    "Withholding"). Publishes the key, and so the update."""
    model_id: int = 0
    round: int = 0
    seq: int = 0
    key: bytes = b""          # the envelope's 32-byte data key K
    SCHEMA = (Field(1, "model_id", "uint64"), Field(2, "round", "uint64"), Field(3, "seq", "uint64"),
              Field(4, "key", "bytes"))

    def validate_basic(self) -> None:
        validate_model_id(self.model_id)
        if len(self.key) != 32:
            raise KeyCommitmentMismatch("key must be the envelope's 32-byte data key")


@message
class MsgJoinRound(Message):
    """Aggregate mode: join round `round` of a model (trained from `parent_version`) with a fresh X25519
    round public key, and that key's private half and a self-mask seed, each sealed to the round's
    sealing set; the model's deposit is escrowed (docs/privacy.md, "Aggregate mode")."""
    model_id: int = 0
    round: int = 0
    parent_version: int = 0
    round_pubkey: bytes = b""   # 32-byte X25519 public key, for this round only
    key_envelope: bytes = b""   # SealedUpdate of the 32-byte round private key (released only if it drops out)
    seed_envelope: bytes = b""  # SealedUpdate of the 32-byte self seed (released only if it submits)
    SCHEMA = (Field(1, "model_id", "uint64"), Field(2, "round", "uint64"), Field(3, "parent_version", "uint64"),
              Field(4, "round_pubkey", "bytes"), Field(5, "key_envelope", "bytes"), Field(6, "seed_envelope", "bytes"))

    def validate_basic(self) -> None:
        validate_model_id(self.model_id)
        if len(self.round_pubkey) != 32:
            raise SecaggError("round_pubkey must be a 32-byte X25519 public key")
        if not self.key_envelope or not self.seed_envelope:
            raise MalformedEnvelope("key_envelope and seed_envelope are required")


@message
class MsgSubmitMasked(Message):
    """Aggregate mode: a cohort member's masked update, y = delta + masks (mod 2^64) as little-endian
    uint64, one per parameter (chain/secagg/masks.py)."""
    model_id: int = 0
    round: int = 0
    masked: bytes = b""
    SCHEMA = (Field(1, "model_id", "uint64"), Field(2, "round", "uint64"), Field(3, "masked", "bytes"))

    def validate_basic(self) -> None:
        validate_model_id(self.model_id)
        if not self.masked or len(self.masked) % 8 or len(self.masked) > MAX_MASKED_BYTES:
            raise SecaggError(f"masked must be 8 bytes per parameter, at most {MAX_MASKED_BYTES} bytes")

