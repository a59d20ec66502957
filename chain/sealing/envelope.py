"""The sealed envelope: canonical bytes (chain/tx/wire.py), size bounds and structural checks.

Schema (docs/sealing.md has it as a .proto file):

    SealContext { string chain_id = 1; uint64 model_id = 2; uint64 round = 3; bytes submitter = 4; }
    SealedShare { uint64 validator_index = 1; uint64 count = 2; bytes commitment = 3; bytes ciphertext = 4; }
    SealedUpdate { uint64 version = 1; bytes context_hash = 2; bytes valset_hash = 3; uint64 threshold = 4;
                   bytes key_commitment = 5; reserved 6; bytes ephemeral_pubkey = 7;
                   repeated SealedShare shares = 8; bytes ciphertext = 9; }

Field 6 was v1's plaintext commitment; v2 leaves it empty (an envelope that sets it is malformed).
"""
from __future__ import annotations

import hashlib
from dataclasses import replace

from chain.sealing.errors import ContextMismatch, EnvelopeTooLarge, MalformedEnvelope, ValidatorSetMismatch
from chain.tx.errors import TxDecodeError
from chain.sealing import derive
from chain.sealing.field import ELEMENT_BYTES
from chain.sealing.valset import MAX_SEALING_VALIDATORS, MAX_TOTAL_SHARES_LIMIT, SharePlan, is_usable_x25519_key
from chain.tx.wire import LEN, VARINT, Field, Message, decode_varint, encode_varint, message

MAX_PAYLOAD_BYTES = 64 << 20   # default bound on an update's ciphertext; the rounds module may set less
_CIPHERTEXT_TAG = encode_varint(9 << 3 | LEN)
_HEADER_ALLOWANCE = 64 << 10     # all but the payload: at most ~51 KB (1,024 shares, 256 entries, framing)


@message
class SealContext(Message):
    """What an update is sealed for. Its bytes enter every key derivation and the payload's AAD."""
    chain_id: str = ""
    model_id: int = 0
    round: int = 0
    submitter: bytes = b""
    SCHEMA = (Field(1, "chain_id", "string"), Field(2, "model_id", "uint64"), Field(3, "round", "uint64"),
              Field(4, "submitter", "bytes"))


@message
class SealedShare(Message):
    """One validator's shares of the data key: `count` field elements, AES-256-GCM encrypted to its key."""
    validator_index: int = 0
    count: int = 0
    commitment: bytes = b""
    ciphertext: bytes = b""
    SCHEMA = (Field(1, "validator_index", "uint64"), Field(2, "count", "uint64"), Field(3, "commitment", "bytes"),
              Field(4, "ciphertext", "bytes"))


@message
class SealedUpdate(Message):
    version: int = 0
    context_hash: bytes = b""
    valset_hash: bytes = b""
    threshold: int = 0
    key_commitment: bytes = b""
    plaintext_commitment: bytes = b""
    ephemeral_pubkey: bytes = b""
    shares: tuple[SealedShare, ...] = ()
    ciphertext: bytes = b""
    SCHEMA = (Field(1, "version", "uint64"), Field(2, "context_hash", "bytes"), Field(3, "valset_hash", "bytes"),
              Field(4, "threshold", "uint64"), Field(5, "key_commitment", "bytes"),
              Field(6, "plaintext_commitment", "bytes"), Field(7, "ephemeral_pubkey", "bytes"),
              Field(8, "shares", "message", SealedShare, repeated=True), Field(9, "ciphertext", "bytes"))

    @classmethod
    def decode(cls, buf: bytes) -> "SealedUpdate":
        """Message.decode's verdict on every input, but the payload is not copied: `ciphertext` is a read-only
        memoryview into `buf` (which stays alive with it). Megabytes copied once per decode cost as much as
        the AES-GCM pass itself. The payload is the last field, so the head before it parses on its own."""
        raw = buf if type(buf) is bytes else memoryview(buf).tobytes()
        cut = _payload_field_start(raw)
        if cut is None:
            return Message.decode.__func__(cls, raw)
        try:
            _, pos = decode_varint(raw, cut)
            length, pos = decode_varint(raw, pos)
        except TxDecodeError:
            return Message.decode.__func__(cls, raw)  # the generic decoder refuses it, with its own message
        if length != len(raw) - pos or length == 0:
            return Message.decode.__func__(cls, raw)  # truncated, trailing bytes or an explicit default: refused
        head = Message.decode.__func__(cls, raw[:cut])
        return replace(head, ciphertext=memoryview(raw)[pos:].toreadonly())


def _payload_field_start(raw: bytes) -> int | None:
    """Offset of the first field-9 tag, walking the fields before it (None if the walk finds none or stumbles:
    then the generic decoder runs and refuses with its own message)."""
    pos = 0
    try:
        while pos < len(raw):
            tag, after = decode_varint(raw, pos)
            if tag == _CIPHERTEXT_TAG[0]:
                return pos
            if tag & 7 == LEN:
                length, after = decode_varint(raw, after)
                after += length
            elif tag & 7 == VARINT:
                _, after = decode_varint(raw, after)
            else:
                return None
            pos = after
    except TxDecodeError:
        return None
    return None


def seal_context(chain_id: str, model_id: int, round: int, submitter: bytes) -> bytes:
    """Canonical context bytes: the chain, model, round and submitter address an update is sealed for."""
    return SealContext(chain_id, model_id, round, submitter).encode()


def envelope_hash(envelope: SealedUpdate) -> bytes:
    """SHA-256 of the canonical envelope bytes (there is exactly one byte form)."""
    return hashlib.sha256(envelope.encode()).digest()


def decode_envelope(raw: bytes, *, max_payload_bytes: int = MAX_PAYLOAD_BYTES) -> SealedUpdate:
    """Canonical bytes -> a structurally valid envelope. Size is checked before any parsing."""
    if len(raw) > max_payload_bytes + _HEADER_ALLOWANCE:
        raise EnvelopeTooLarge(f"envelope is {len(raw)} bytes; the bound is {max_payload_bytes} bytes of payload")
    try:
        envelope = SealedUpdate.decode(raw)
    except TxDecodeError as e:
        raise MalformedEnvelope(f"envelope bytes: {e}") from None
    validate_envelope(envelope, max_payload_bytes=max_payload_bytes)
    return envelope


def validate_envelope(envelope: SealedUpdate, *, max_payload_bytes: int = MAX_PAYLOAD_BYTES) -> None:
    """Structural rules that need nothing but the envelope. Raises MalformedEnvelope or EnvelopeTooLarge."""
    if envelope.version != derive.VERSION:
        raise MalformedEnvelope(f"envelope version {envelope.version}; this chain opens version {derive.VERSION} "
                                "(docs/sealing.md, \"Format history\"): seal again with this SDK")
    for name in ("context_hash", "valset_hash", "key_commitment"):
        if len(getattr(envelope, name)) != derive.HASH_BYTES:
            raise MalformedEnvelope(f"{name} must be {derive.HASH_BYTES} bytes")
    if envelope.plaintext_commitment:
        raise MalformedEnvelope("field 6 (v1's plaintext commitment) must be empty in version 2")
    if not is_usable_x25519_key(envelope.ephemeral_pubkey):
        raise MalformedEnvelope("ephemeral_pubkey must be a 32-byte X25519 key that is not a low-order point")
    if not 0 < len(envelope.shares) <= MAX_SEALING_VALIDATORS:
        raise MalformedEnvelope(f"an envelope has 1 to {MAX_SEALING_VALIDATORS} share entries")
    total, last_index = 0, -1
    for entry in envelope.shares:
        if entry.validator_index <= last_index:
            raise MalformedEnvelope("share entries must be in strictly ascending validator_index order")
        last_index = entry.validator_index
        if not 0 < entry.count <= MAX_TOTAL_SHARES_LIMIT:
            raise MalformedEnvelope(f"validator {entry.validator_index}: share count must be 1 to "
                                    f"{MAX_TOTAL_SHARES_LIMIT}")
        if len(entry.commitment) != derive.HASH_BYTES:
            raise MalformedEnvelope(f"validator {entry.validator_index}: commitment must be 32 bytes")
        if len(entry.ciphertext) != entry.count * ELEMENT_BYTES + derive.TAG_BYTES:
            raise MalformedEnvelope(f"validator {entry.validator_index}: share ciphertext must be "
                                    f"32 x count + 16 bytes")
        total += entry.count
    if total > MAX_TOTAL_SHARES_LIMIT:
        raise MalformedEnvelope(f"{total} shares in all; at most {MAX_TOTAL_SHARES_LIMIT}")
    if not 0 < envelope.threshold <= total:
        raise MalformedEnvelope(f"threshold {envelope.threshold} must be 1 to the number of shares ({total})")
    if len(envelope.ciphertext) < derive.TAG_BYTES:
        raise MalformedEnvelope("ciphertext is shorter than its 16-byte tag")
    if len(envelope.ciphertext) > max_payload_bytes + derive.TAG_BYTES:
        raise EnvelopeTooLarge(f"ciphertext is {len(envelope.ciphertext)} bytes; the bound is {max_payload_bytes}")


def check_envelope(envelope: SealedUpdate, context: bytes, plan: SharePlan, *,
                   max_payload_bytes: int = MAX_PAYLOAD_BYTES) -> None:
    """At submission: the envelope is well formed, sealed for this context and to this plan's set."""
    validate_envelope(envelope, max_payload_bytes=max_payload_bytes)
    check_context(envelope, context)
    if envelope.valset_hash != plan.valset_hash:
        raise ValidatorSetMismatch("the envelope was sealed to another validator set")
    if tuple((e.validator_index, e.count) for e in envelope.shares) != plan.entries():
        raise ValidatorSetMismatch("share entries differ from the plan's (validator index, share count) list")
    if envelope.threshold != plan.threshold:
        raise ValidatorSetMismatch(f"threshold {envelope.threshold}; the plan needs {plan.threshold}")


def check_context(envelope: SealedUpdate, context: bytes) -> None:
    if envelope.context_hash != derive.context_hash(context):
        raise ContextMismatch("the update was sealed for another chain, model, round or submitter")


def share_xs(envelope: SealedUpdate) -> list[range]:
    """The x coordinates of each entry's shares: consecutive from 1, in entry order."""
    out, start = [], 1
    for entry in envelope.shares:
        out.append(range(start, start + entry.count))
        start += entry.count
    return out
