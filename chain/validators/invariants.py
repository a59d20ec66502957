"""validators invariants."""
from __future__ import annotations

from chain.bank import keeper as bank
from chain.validators import params as vparams
from chain.validators.genesis import bonded_total
from chain.validators.keeper import BONDED_POOL


def bonded_pool_covers_bonds(state) -> list[str]:
    """The bonded pool holds exactly the active bonds plus the queued releases."""
    denom = vparams.load(state).bond_denom
    held, owed = bank.balance(state, BONDED_POOL, denom), bonded_total(state)
    return [] if held == owed else [f"bonded pool holds {held}{denom}, owes {owed}"]


INVARIANTS = {"bonded_pool_covers_bonds": bonded_pool_covers_bonds}
