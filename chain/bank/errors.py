"""Result codes of codespace "bank" (bank module). Part of consensus: never renumber, never reuse."""
from __future__ import annotations

from chain.tx.errors import ChainError


class InsufficientFunds(ChainError):
    """The sender's balance is below the amount."""
    codespace, code = "bank", 1


class SupplyOverflow(ChainError):
    """Total supply of a denom would exceed 2**256-1."""
    codespace, code = "bank", 4


class ModuleAccountRecipient(ChainError):
    """A plain send to a module account is refused; module accounts receive only through their module."""
    codespace, code = "bank", 8


class MissingPermission(ChainError):
    """The module account lacks the permission (mint, burn) for this, or for this denom."""
    codespace, code = "bank", 9


class ModuleAccountSender(ChainError):
    """Coins leave a module account only through the capability bound to that account."""
    codespace, code = "bank", 10
