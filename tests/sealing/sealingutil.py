"""Shared helpers for the sealing tests: deterministic validator keys, contexts and randomness."""
from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from chain.sealing.envelope import seal_context
from chain.sealing.open import decrypt_share

CONTEXT = seal_context("gradchain-test-1", 7, 3, bytes.fromhex("11" * 20))
OTHER_SUBMITTER = seal_context("gradchain-test-1", 7, 3, bytes.fromhex("22" * 20))


def validator_private_key(i: int) -> bytes:
    """Validator i's X25519 private key in every test and in the docs' test vector."""
    return hashlib.sha256(b"gradchain sealing test validator " + str(i).encode()).digest()


def validator_public_key(i: int) -> bytes:
    return X25519PrivateKey.from_private_bytes(validator_private_key(i)).public_key().public_bytes(
        Encoding.Raw, PublicFormat.Raw)


def validators(powers) -> list[tuple[int, bytes, int]]:
    return [(i, validator_public_key(i), p) for i, p in enumerate(powers)]


class StreamRandom:
    """random_bytes(n): the next n bytes of SHAKE-256(seed). Reproducible stand-in for os.urandom."""

    def __init__(self, seed: bytes):
        self.seed, self.position = seed, 0

    def __call__(self, n: int) -> bytes:
        out = hashlib.shake_256(self.seed).digest(self.position + n)[self.position:]
        self.position += n
        return out


def release_all(envelope, indices=None) -> dict[int, bytes]:
    """What each validator would release: its decrypted, commitment-checked share vector."""
    wanted = [e.validator_index for e in envelope.shares] if indices is None else indices
    return {i: decrypt_share(validator_private_key(i), envelope, i) for i in wanted}
