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
    codespace, code = "tx", 1  # malformed or non-canonical bytes


class TxTooLarge(ChainError):
    codespace, code = "tx", 2


class WrongChainId(ChainError):
    codespace, code = "tx", 3


class InvalidSignature(ChainError):
    codespace, code = "tx", 4


class WrongSequence(ChainError):
    codespace, code = "tx", 5


class InsufficientFee(ChainError):
    codespace, code = "tx", 6


class InvalidFeeDenom(ChainError):
    codespace, code = "tx", 7


class EmptyTx(ChainError):
    codespace, code = "tx", 8  # no messages


class TooManyMessages(ChainError):
    codespace, code = "tx", 9


class InvalidPublicKey(ChainError):
    codespace, code = "tx", 10


class UnknownMessage(ChainError):
    codespace, code = "tx", 11


class CannotPayFee(ChainError):
    codespace, code = "tx", 12  # signer's native balance below the fee


# --- codespace "bank" -------------------------------------------------------------------------
class InsufficientFunds(ChainError):
    codespace, code = "bank", 1


class InvalidAmount(ChainError):
    codespace, code = "bank", 2  # zero, negative, non-canonical or above 2**256-1


class InvalidDenom(ChainError):
    codespace, code = "bank", 3


class SupplyOverflow(ChainError):
    codespace, code = "bank", 4


class InvalidAddress(ChainError):
    codespace, code = "bank", 5


class DuplicateDenom(ChainError):
    codespace, code = "bank", 6  # the same denom twice in one coin list


class TooManyCoins(ChainError):
    codespace, code = "bank", 7


# --- codespace "genesis" ----------------------------------------------------------------------
class InvalidGenesis(ChainError):
    codespace, code = "genesis", 1


# --- codespace "query" ------------------------------------------------------------------------
class UnknownQuery(ChainError):
    codespace, code = "query", 1


class InvalidQuery(ChainError):
    codespace, code = "query", 2


class HeightNotAvailable(ChainError):
    codespace, code = "query", 3
