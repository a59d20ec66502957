"""The result-code registry and the tx layer's own codes.

Every expected failure raises a `ChainError` subclass carrying (codespace, code); each module declares
its codes in its own `errors.py` and they register here on import (`chain.codes` imports them all).
Codes are part of consensus: never renumber, never reuse. Anything else escaping the state machine is a
bug and stops the node.

Besides codespace "tx" (envelope, decoding, ante), this file holds "genesis" and "query", and the coin
and address errors of codespace "bank" that `chain.tx.coins` and `chain.tx.address` raise for every module.
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


def registered_errors() -> dict[tuple[str, int], type[ChainError]]:
    """The codes registered so far, by the modules imported so far; `chain.codes` imports them all."""
    return dict(sorted(_REGISTRY.items()))



# --- codespace "tx" ------------------------------------------------------------
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
    """The signature is not 64 bytes, is non-canonical (R's y not below p, S not below L), or does not verify
    over the body bytes."""
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
    """The signer's public key is not 32 bytes, or not a canonical encoding of an Ed25519 point of prime order
    (small-order and mixed-order keys are refused: chain/tx/ed25519.py)."""
    codespace, code = "tx", 10


class UnknownMessage(ChainError):
    """No handler for this message type."""
    codespace, code = "tx", 11


class CannotPayFee(ChainError):
    """The signer's balance is below the fee."""
    codespace, code = "tx", 12


# --- codespace "bank" ------------------------------------------------------------
class InvalidAmount(ChainError):
    """An amount is zero, negative, non-canonical or above 2**256-1."""
    codespace, code = "bank", 2


class InvalidDenom(ChainError):
    """A denom is malformed, or a coin list is not sorted by denom."""
    codespace, code = "bank", 3


class InvalidAddress(ChainError):
    """An address is not 20 bytes (or bad bech32)."""
    codespace, code = "bank", 5


class DuplicateDenom(ChainError):
    """The same denom appears twice in one coin list."""
    codespace, code = "bank", 6


class TooManyCoins(ChainError):
    """A coin list is empty or has too many denoms."""
    codespace, code = "bank", 7


# --- codespace "genesis" ------------------------------------------------------------
class InvalidGenesis(ChainError):
    """The genesis app_state is malformed."""
    codespace, code = "genesis", 1


# --- codespace "query" ------------------------------------------------------------
class UnknownQuery(ChainError):
    """No such query path."""
    codespace, code = "query", 1


class InvalidQuery(ChainError):
    """The query data is malformed."""
    codespace, code = "query", 2


class HeightNotAvailable(ChainError):
    """The state at that height is not kept."""
    codespace, code = "query", 3
