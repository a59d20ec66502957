"""auth's genesis section: params and accounts' sequence numbers."""
from __future__ import annotations

from chain.auth import keys
from chain.auth import params as auth_params
from chain.auth.ante import sequence
from chain.codec import u64
from chain.store.kv import prefix_end
from chain.tx.address import from_bech32, to_bech32


def import_genesis(state, section: dict) -> None:
    auth_params.store(state, auth_params.AuthParams(**section.get("params", {})))
    for account in section.get("accounts", []):
        state.set(keys.sequence_key(from_bech32(account["address"])), u64(int(account["sequence"])))


def export_genesis(state) -> dict:
    accounts = [{"address": to_bech32(key[len(keys.SEQUENCE):]), "sequence": sequence(state, key[len(keys.SEQUENCE):])}
                for key, _ in state.iterate(keys.SEQUENCE, prefix_end(keys.SEQUENCE))]
    return {"params": auth_params.load(state).__dict__.copy(), "accounts": accounts}
