"""Result codes of codespace "bridge" (bridge module). Part of consensus: never renumber, never reuse."""
from __future__ import annotations

from chain.tx.errors import ChainError


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
