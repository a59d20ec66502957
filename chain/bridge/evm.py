"""EVM-side cryptography the chain must agree on: keccak-256, the digests the bridge contract
verifies (contracts/Bridge.vy computes the same), and secp256k1 public-key recovery.

Pure functions of their arguments. Signatures are Ethereum-style r(32) || s(32) || v(1), v in {27, 28},
with s in the lower half of the curve order, so each signature has one accepted byte form.
"""
from __future__ import annotations

from coincurve import PublicKey
from Crypto.Hash import keccak as _keccak

SIGNATURE_LEN = 65
EVM_ADDRESS_LEN = 20
_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141  # secp256k1 group order


def keccak256(data: bytes) -> bytes:
    return _keccak.new(digest_bits=256, data=data).digest()


VALSET_TAG = keccak256(b"gradchain-bridge/valset/v1")
BATCH_TAG = keccak256(b"gradchain-bridge/batch/v1")
ADDRESS_TAG = keccak256(b"gradchain-bridge/evm-address/v1")


def word(value: int | bytes) -> bytes:
    """One ABI word: an unsigned integer, a 20-byte address (left-padded) or 32 raw bytes."""
    if isinstance(value, int):
        return value.to_bytes(32, "big")
    if len(value) == 20:
        return b"\x00" * 12 + value
    if len(value) == 32:
        return value
    raise ValueError(f"cannot ABI-encode {len(value)} bytes as one word")


def abi_words(*values: int | bytes) -> bytes:
    return b"".join(word(v) for v in values)


def members_hash(members: list[tuple[bytes, int]]) -> bytes:
    h = b"\x00" * 32
    for address, power in members:
        h = keccak256(abi_words(h, address, power))
    return h


def valset_digest(contract: bytes, evm_chain_id: int, valset_nonce: int, members: list[tuple[bytes, int]]) -> bytes:
    return keccak256(abi_words(VALSET_TAG, contract, evm_chain_id, valset_nonce, len(members),
                               members_hash(members)))


def batch_digest(contract: bytes, evm_chain_id: int, token: bytes, batch_nonce: int, valset_nonce: int,
                 transfers: list[tuple[bytes, int]]) -> bytes:
    """transfers: (recipient, amount) in batch order."""
    h = b"\x00" * 32
    for recipient, amount in transfers:
        h = keccak256(abi_words(h, recipient, amount))
    return keccak256(abi_words(BATCH_TAG, contract, evm_chain_id, token, batch_nonce, valset_nonce,
                               len(transfers), h))


def address_proof_digest(chain_id: str, operator: bytes, evm_address: bytes) -> bytes:
    """What an EVM key signs to prove it belongs to the validator registering it."""
    return keccak256(ADDRESS_TAG + keccak256(chain_id.encode()) + word(operator) + word(evm_address))


def address_of_public_key(uncompressed: bytes) -> bytes:
    """EVM address: the last 20 bytes of keccak-256 of the 64-byte public key."""
    return keccak256(uncompressed[1:])[-20:]


def signature_is_canonical(signature: bytes) -> bool:
    if len(signature) != SIGNATURE_LEN or signature[64] not in (27, 28):
        return False
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:64], "big")
    return 0 < r < _N and 0 < s <= _N // 2


def recover_address(digest: bytes, signature: bytes) -> bytes | None:
    """The EVM address that signed `digest`, or None for a malformed or non-canonical signature."""
    if len(digest) != 32 or not signature_is_canonical(signature):
        return None
    try:
        key = PublicKey.from_signature_and_message(signature[:64] + bytes([signature[64] - 27]), digest, hasher=None)
    except ValueError:
        return None
    return address_of_public_key(key.format(compressed=False))
