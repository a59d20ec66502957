"""bank's genesis section: balances, minted at import (supply follows from them)."""
from __future__ import annotations

from chain.bank import keeper as bank
from chain.bank.keys import BALANCE
from chain.store.kv import prefix_end
from chain.tx.address import from_bech32, to_bech32
from chain.tx.coins import Coin, validate_coins
from chain.tx.errors import InvalidGenesis


def import_genesis(state, section: dict) -> None:
    seen: set[bytes] = set()
    for entry in section.get("balances", []):
        address = from_bech32(entry["address"])
        if address in seen:
            raise InvalidGenesis(f"account {entry['address']} listed twice")
        seen.add(address)
        coins = validate_coins(tuple(Coin(denom=c["denom"], amount=str(c["amount"])) for c in entry["coins"]))
        for denom, amount in coins:
            bank.genesis_mint(state, address, denom, amount)


def export_genesis(state) -> dict:
    holders = sorted({key[len(BALANCE):len(BALANCE) + 20] for key, _ in state.iterate(BALANCE, prefix_end(BALANCE))})
    return {"balances": [{"address": to_bech32(a), "coins": [{"denom": d, "amount": str(n)}
                                                               for d, n in bank.balances(state, a)]}
                         for a in holders]}
