"""bank queries (not consensus).

    /bank/balance   address (20) + denom   balance, big-endian (provable; empty = zero)
    /bank/balances  address (20)           JSON {"address", "balances": [{"denom", "amount"}]}
    /bank/supply    -                      JSON {"supply": [{"denom", "amount"}]}
"""
from __future__ import annotations

from chain.bank import keeper as bank
from chain.bank.keys import balance_key
from chain.tx.address import to_bech32
from chain.tx.coins import validate_denom
from chain.tx.errors import InvalidQuery, UnknownQuery
from chain.results import json_answer


def address_data(data: bytes) -> bytes:
    if len(data) != 20:
        raise InvalidQuery("query data must be a 20-byte address")
    return data


def provable_key(path: str, data: bytes) -> bytes | None:
    if path == "/bank/balance":
        address, denom = address_data(data[:20]), data[20:].decode("utf-8", errors="replace")
        validate_denom(denom)
        return balance_key(address, denom)
    return None


def query(state, path: str, data: bytes) -> bytes:
    if path == "/bank/balances":
        address = address_data(data)
        return json_answer({"address": to_bech32(address),
                      "balances": [{"denom": d, "amount": str(a)} for d, a in bank.balances(state, address)]})
    if path == "/bank/supply":
        return json_answer({"supply": [{"denom": d, "amount": str(a)} for d, a in bank.all_supply(state)]})
    raise UnknownQuery(f"unknown query path {path!r}; see docs/state.md")
