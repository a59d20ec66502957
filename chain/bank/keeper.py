"""The only way into bank keys. Other modules get narrower capabilities built on these functions."""
from __future__ import annotations

from chain.bank import keys
from chain.codec import decode_uint, encode_uint
from chain.bank.errors import InsufficientFunds, SupplyOverflow
from chain.store.kv import prefix_end
from chain.tx.coins import MAX_AMOUNT


def balance(state, address: bytes, denom: str) -> int:
    raw = state.get(keys.balance_key(address, denom))
    return decode_uint(raw) if raw is not None else 0


def balances(state, address: bytes) -> list[tuple[str, int]]:
    prefix = keys.balances_prefix(address)
    return [(k[len(prefix):].decode(), decode_uint(v)) for k, v in state.iterate(prefix, prefix_end(prefix))]


def supply(state, denom: str) -> int:
    raw = state.get(keys.supply_key(denom))
    return decode_uint(raw) if raw is not None else 0


def all_supply(state) -> list[tuple[str, int]]:
    return [(k[len(keys.SUPPLY):].decode(), decode_uint(v))
            for k, v in state.iterate(keys.SUPPLY, prefix_end(keys.SUPPLY))]


def _set_balance(state, address: bytes, denom: str, amount: int) -> None:
    key = keys.balance_key(address, denom)
    if amount == 0:
        state.delete(key)  # zero balances are not stored
    else:
        state.set(key, encode_uint(amount))


def validate_send(state, sender: bytes, coins: list[tuple[str, int]]) -> None:
    for denom, amount in coins:
        have = balance(state, sender, denom)
        if have < amount:
            raise InsufficientFunds(f"insufficient {denom}: have {have}, need {amount}")


def apply_send(state, sender: bytes, recipient: bytes, coins: list[tuple[str, int]]) -> None:
    """Move coins; checks everything first, then writes. Supply is unchanged."""
    validate_send(state, sender, coins)
    for denom, amount in coins:
        _set_balance(state, sender, denom, balance(state, sender, denom) - amount)
        # recipient's balance <= supply <= MAX_AMOUNT, so this cannot overflow
        _set_balance(state, recipient, denom, balance(state, recipient, denom) + amount)


def apply_mint(state, recipient: bytes, denom: str, amount: int) -> None:
    """Create new coins. Only genesis and the bridge (vouchers for locked tokens) hold this capability."""
    new_supply = supply(state, denom) + amount
    if new_supply > MAX_AMOUNT:
        raise SupplyOverflow(f"total supply of {denom} would exceed 2**256-1")
    state.set(keys.supply_key(denom), encode_uint(new_supply))
    _set_balance(state, recipient, denom, balance(state, recipient, denom) + amount)


def apply_burn(state, holder: bytes, denom: str, amount: int) -> None:
    """Destroy coins `holder` owns. Only the bridge holds this capability (vouchers whose tokens left
    the bridge contract)."""
    have = balance(state, holder, denom)
    if have < amount:
        raise InsufficientFunds(f"cannot burn {amount}{denom}: holder has {have}")
    remaining = supply(state, denom) - amount
    if remaining:
        state.set(keys.supply_key(denom), encode_uint(remaining))
    else:
        state.delete(keys.supply_key(denom))
    _set_balance(state, holder, denom, have - amount)
