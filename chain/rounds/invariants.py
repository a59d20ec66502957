"""rounds invariants."""
from __future__ import annotations

from chain.bank import keeper as bank
from chain.rounds.keeper import ESCROW, held_deposits


def rounds_escrow_covers_deposits(state) -> list[str]:
    """The rounds escrow holds, per denom, exactly what keeper.held_deposits owes: the deposits and scoring
    prepayments of submissions still held (sealed or opened) and the rounds' unspent scoring reserves."""
    held, owed = dict(bank.balances(state, ESCROW)), held_deposits(state)
    return [] if held == owed else [f"rounds escrow holds {held}, held deposits are {owed}"]


INVARIANTS = {"rounds_escrow_covers_deposits": rounds_escrow_covers_deposits}
