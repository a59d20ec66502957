"""Result codes of codespace "validators" (validators module). Part of consensus: never renumber, never reuse."""
from __future__ import annotations

from chain.tx.errors import ChainError


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
