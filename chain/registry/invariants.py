"""registry invariants."""
from __future__ import annotations

from chain.bank import keeper as bank
from chain.registry.keeper import ESCROW, all_models, owed
from chain.registry.model import CLOSED


def registry_escrow_covers_models(state) -> list[str]:
    """The registry escrow holds, per denom, exactly the open models' unspent bounties plus their bonds."""
    expected: dict[str, int] = {}
    for model in all_models(state):
        if model.status != CLOSED:
            for denom, amount in owed(model):
                expected[denom] = expected.get(denom, 0) + amount
    held = dict(bank.balances(state, ESCROW))
    return [] if held == expected else [f"registry escrow holds {held}, open models are owed {expected}"]


INVARIANTS = {"registry_escrow_covers_models": registry_escrow_covers_models}
