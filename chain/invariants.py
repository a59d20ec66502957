"""Named invariants, checkable at any height (tests check them after every block)."""
from __future__ import annotations

from chain.bank import keeper as bank
from chain.bank.keys import BALANCE
from chain.codec import decode_uint
from chain.store.kv import prefix_end


def supply_equals_balances(state) -> list[str]:
    """Per denom: total supply == sum of all balances (escrows are balances of module accounts)."""
    totals: dict[str, int] = {}
    problems = []
    for key, value in state.iterate(BALANCE, prefix_end(BALANCE)):
        denom = key[len(BALANCE) + 20:].decode()
        amount = decode_uint(value)
        if amount <= 0:
            problems.append(f"stored non-positive balance {amount} at {key!r}")
        totals[denom] = totals.get(denom, 0) + amount
    supplies = dict(bank.all_supply(state))
    for denom in sorted(set(totals) | set(supplies)):
        if totals.get(denom, 0) != supplies.get(denom, 0):
            problems.append(f"{denom}: supply {supplies.get(denom, 0)} != balances {totals.get(denom, 0)}")
    return problems


def bonded_pool_covers_bonds(state) -> list[str]:
    """The bonded pool holds exactly the active bonds plus the queued releases."""
    from chain.validators import params as vparams
    from chain.validators.genesis import bonded_total
    from chain.validators.keeper import BONDED_POOL
    denom = vparams.load(state).bond_denom
    held, owed = bank.balance(state, BONDED_POOL, denom), bonded_total(state)
    return [] if held == owed else [f"bonded pool holds {held}{denom}, owes {owed}"]



def bridge_escrow_covers_withdrawals(state) -> list[str]:
    """The bridge escrow holds exactly the vouchers of withdrawals not yet released on the EVM chain."""
    from chain.bridge.keeper import ESCROW, all_withdrawals
    owed: dict[str, int] = {}
    for w in all_withdrawals(state):
        owed[w["denom"]] = owed.get(w["denom"], 0) + int(w["amount"])
    held = dict(bank.balances(state, ESCROW))
    return [] if held == owed else [f"bridge escrow holds {held}, pending withdrawals owe {owed}"]


def registry_escrow_covers_models(state) -> list[str]:
    """The registry escrow holds, per denom, exactly the open models' unspent bounties plus their bonds."""
    from chain.registry.keeper import ESCROW, all_models, owed
    from chain.registry.model import CLOSED
    expected: dict[str, int] = {}
    for model in all_models(state):
        if model.status != CLOSED:
            for denom, amount in owed(model):
                expected[denom] = expected.get(denom, 0) + amount
    held = dict(bank.balances(state, ESCROW))
    return [] if held == expected else [f"registry escrow holds {held}, open models are owed {expected}"]


def rounds_escrow_covers_deposits(state) -> list[str]:
    """The rounds escrow holds, per denom, exactly the deposits of submissions still held (sealed)."""
    from chain.rounds.keeper import ESCROW, held_deposits
    held, owed = dict(bank.balances(state, ESCROW)), held_deposits(state)
    return [] if held == owed else [f"rounds escrow holds {held}, held deposits are {owed}"]


ALL = {"supply_equals_balances": supply_equals_balances, "bonded_pool_covers_bonds": bonded_pool_covers_bonds,
       "bridge_escrow_covers_withdrawals": bridge_escrow_covers_withdrawals,
       "registry_escrow_covers_models": registry_escrow_covers_models,
       "rounds_escrow_covers_deposits": rounds_escrow_covers_deposits}


def check_all(state) -> list[str]:
    return [f"{name}: {p}" for name, check in ALL.items() for p in check(state)]
