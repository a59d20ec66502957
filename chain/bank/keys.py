"""Every key the bank module owns. Part of the documented state layout (docs/state.md):
clients build these keys to ask for proofs."""
from __future__ import annotations

BALANCE = b"bank/b/"  # + address(20) + denom -> amount (big-endian, minimal; zero balances not stored)
SUPPLY = b"bank/s/"   # + denom -> total supply


def balance_key(address: bytes, denom: str) -> bytes:
    return BALANCE + address + denom.encode()


def balances_prefix(address: bytes) -> bytes:
    return BALANCE + address


def supply_key(denom: str) -> bytes:
    return SUPPLY + denom.encode()
