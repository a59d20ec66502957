"""Result codes of codespace "sealing" (sealing module). Part of consensus: never renumber, never reuse."""
from __future__ import annotations

from chain.tx.errors import ChainError


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
    """Retired with envelope format v1 (its HMAC plaintext commitment); no longer raised, code never reused."""
    codespace, code = "sealing", 11


class EphemeralKeyMismatch(ChainError):
    """The envelope's ephemeral X25519 key is not the one derived from its data key, so its encrypted shares cannot be checked: the trainer did not seal by the format."""
    codespace, code = "sealing", 12


class UndecryptableShare(ChainError):
    """With the data key known, a validator's encrypted shares do not decrypt to the shares the envelope commits to: the trainer sealed them badly, provably."""
    codespace, code = "sealing", 13
