"""Tx envelope: decoding, stateless checks and the signature.

The signature covers `Tx.body` exactly as transmitted, so a tx has one valid byte form:
the outer Tx and the inner TxBody must both be canonical (chain.tx.wire).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from chain.tx.errors import EmptyTx, InvalidPublicKey, InvalidSignature, TooManyMessages, TxDecodeError
from chain.tx import ed25519
from chain.tx.coins import Coin
from chain.messages import Msg
from chain.tx.wire import Field, Message, message

PUBLIC_KEY_LEN = 32
SIGNATURE_LEN = 64
MAX_MESSAGES = 32
MAX_MEMO_BYTES = 256


def address_of(public_key: bytes) -> bytes:
    """An account address: the first 20 bytes of SHA-256(Ed25519 public key)."""
    return hashlib.sha256(public_key).digest()[:20]


def tx_hash(tx_bytes: bytes) -> bytes:
    """The hash CometBFT indexes a tx under (SHA-256 of the raw tx bytes)."""
    return hashlib.sha256(tx_bytes).digest()


@message
class TxBody(Message):
    chain_id: str = ""
    public_key: bytes = b""
    sequence: int = 0
    fee: Coin | None = None
    messages: tuple[Msg, ...] = ()
    memo: str = ""
    SCHEMA = (
        Field(1, "chain_id", "string"),
        Field(2, "public_key", "bytes"),
        Field(3, "sequence", "uint64"),
        Field(4, "fee", "message", Coin),
        Field(5, "messages", "message", Msg, repeated=True),
        Field(6, "memo", "string"),
    )


@message
class Tx(Message):
    body: bytes = b""
    signature: bytes = b""
    SCHEMA = (Field(1, "body", "bytes"), Field(2, "signature", "bytes"))


@dataclass(frozen=True)
class DecodedTx:
    """A tx that passed every stateless check; `signer` is the address of `body.public_key`."""
    raw: bytes
    body: TxBody
    signer: bytes
    messages: tuple[Message, ...]


def decode_tx(raw: bytes) -> DecodedTx:
    """Decode and run the stateless checks that need no state: shape, messages, signature."""
    if not raw:
        raise TxDecodeError("empty tx bytes")
    tx = Tx.decode(raw)
    if tx.encode() != raw:  # belt and braces: decode must have accepted only the canonical form
        raise TxDecodeError("non-canonical tx encoding")
    body = TxBody.decode(tx.body)
    if len(body.public_key) != PUBLIC_KEY_LEN:
        raise InvalidPublicKey(f"public_key must be {PUBLIC_KEY_LEN} bytes")
    if len(tx.signature) != SIGNATURE_LEN:
        raise InvalidSignature(f"signature must be {SIGNATURE_LEN} bytes")
    if not body.messages:
        raise EmptyTx("a tx needs at least one message")
    if len(body.messages) > MAX_MESSAGES:
        raise TooManyMessages(f"at most {MAX_MESSAGES} messages per tx")
    if len(body.memo.encode()) > MAX_MEMO_BYTES:
        raise TxDecodeError(f"memo longer than {MAX_MEMO_BYTES} bytes")
    inner = tuple(m.inner() for m in body.messages)
    for m in inner:
        m.validate_basic()
    verify_signature(body.public_key, tx.body, tx.signature)
    return DecodedTx(raw=raw, body=body, signer=address_of(body.public_key), messages=inner)


def verify_signature(public_key: bytes, body: bytes, signature: bytes) -> None:
    """The chain's one Ed25519 rule (chain/tx/ed25519.py): strict RFC 8032, small and mixed order refused."""
    ed25519.verify(public_key, body, signature)
