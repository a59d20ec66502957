"""bank invariants."""
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


INVARIANTS = {"supply_equals_balances": supply_equals_balances}
