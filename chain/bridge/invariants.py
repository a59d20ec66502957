"""bridge invariants."""
from __future__ import annotations

from chain.bank import keeper as bank
from chain.bridge.keeper import ESCROW, all_withdrawals


def bridge_escrow_covers_withdrawals(state) -> list[str]:
    """The bridge escrow holds exactly the vouchers of withdrawals not yet released on the EVM chain."""
    owed: dict[str, int] = {}
    for w in all_withdrawals(state):
        owed[w["denom"]] = owed.get(w["denom"], 0) + int(w["amount"])
    held = dict(bank.balances(state, ESCROW))
    return [] if held == owed else [f"bridge escrow holds {held}, pending withdrawals owe {owed}"]


INVARIANTS = {"bridge_escrow_covers_withdrawals": bridge_escrow_covers_withdrawals}
