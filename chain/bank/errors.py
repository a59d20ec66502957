"""Result codes of codespace "bank" (bank module). Part of consensus: never renumber, never reuse."""
from __future__ import annotations

from chain.tx.errors import ChainError


class InsufficientFunds(ChainError):
    """The sender's balance is below the amount."""
    codespace, code = "bank", 1


class SupplyOverflow(ChainError):
    """Total supply of a denom would exceed 2**256-1."""
    codespace, code = "bank", 4
