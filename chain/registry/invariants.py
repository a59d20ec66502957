"""registry invariants."""
from __future__ import annotations

from chain.bank import keeper as bank
from chain.registry import keys
from chain.registry.keeper import ESCROW, all_models, owed
from chain.store.kv import prefix_end
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


def owner_index_lists_open_models(state) -> list[str]:
    """reg/o/ (the per-owner cap's index) holds exactly one key per open model, under its owner."""
    expected = {keys.owner_key(m.owner_bytes, m.id) for m in all_models(state) if m.status != CLOSED}
    indexed = {k for k, _ in state.iterate(keys.OWNER, prefix_end(keys.OWNER))}
    return [] if indexed == expected else [f"owner index has {len(indexed)} keys for {len(expected)} open models"]


INVARIANTS = {"registry_escrow_covers_models": registry_escrow_covers_models,
              "owner_index_lists_open_models": owner_index_lists_open_models}
