"""Genesis import and export. `export_genesis(import_genesis(g)) == g` for a canonical g."""
from __future__ import annotations

import binascii

from chain.auth import keys as auth_keys
from chain.auth import params as auth_params
from chain.auth.ante import sequence
from chain.bank import keeper as bank
from chain.bank.keys import BALANCE
from chain.codec import encode_u64
from chain.tx.errors import ChainError, InvalidGenesis
from chain.store.kv import prefix_end
from chain.tx.address import from_bech32, to_bech32
from chain.tx.coins import Coin, validate_coins
from chain.validators import genesis as validators_genesis
from chain.bridge import genesis as bridge_genesis
from chain.registry import genesis as registry_genesis
from chain.rounds import genesis as rounds_genesis

CHAIN_ID_KEY = b"app/chain_id"


def chain_id(state) -> str:
    raw = state.get(CHAIN_ID_KEY)
    if raw is None:
        raise RuntimeError("state has no chain id: InitChain never ran")
    return raw.decode()


def import_genesis(state, chain_id_: str, app_state: dict) -> None:
    """Write the initial state. Raises InvalidGenesis with a readable reason on any bad field."""
    if not isinstance(app_state, dict):
        raise InvalidGenesis("app_state must be a JSON object")
    unknown = set(app_state) - {"auth", "bank", "validators", "bridge", "registry", "rounds"}
    if unknown:
        raise InvalidGenesis(f"unknown app_state sections: {sorted(unknown)}")
    try:
        state.set(CHAIN_ID_KEY, chain_id_.encode())
        auth = app_state.get("auth", {})
        auth_params.store(state, auth_params.AuthParams(**auth.get("params", {})))
        for account in auth.get("accounts", []):
            state.set(auth_keys.sequence_key(from_bech32(account["address"])), encode_u64(int(account["sequence"])))
        seen: set[bytes] = set()
        for entry in app_state.get("bank", {}).get("balances", []):
            address = from_bech32(entry["address"])
            if address in seen:
                raise InvalidGenesis(f"account {entry['address']} listed twice")
            seen.add(address)
            coins = validate_coins(tuple(Coin(denom=c["denom"], amount=str(c["amount"])) for c in entry["coins"]))
            for denom, amount in coins:
                bank.genesis_mint(state, address, denom, amount)
        validators_genesis.import_genesis(state, app_state.get("validators", {}))
        if "bridge" in app_state:
            bridge_genesis.import_genesis(state, app_state["bridge"])
        registry_genesis.import_genesis(state, app_state.get("registry", {}))
        if "rounds" in app_state:
            rounds_genesis.import_genesis(state, app_state["rounds"])
    except InvalidGenesis:
        raise
    except (ChainError, KeyError, TypeError, ValueError, binascii.Error) as e:
        raise InvalidGenesis(f"invalid genesis app_state: {e}") from None


def export_genesis(state) -> dict:
    balances: dict[bytes, list[dict]] = {}
    for key, _ in state.iterate(BALANCE, prefix_end(BALANCE)):
        address = key[len(BALANCE):len(BALANCE) + 20]
        balances.setdefault(address, [])
    accounts = []
    for address in sorted(balances):
        coins = [{"denom": d, "amount": str(a)} for d, a in bank.balances(state, address)]
        balances[address] = coins
    for key, _ in state.iterate(auth_keys.SEQUENCE, prefix_end(auth_keys.SEQUENCE)):
        address = key[len(auth_keys.SEQUENCE):]
        accounts.append({"address": to_bech32(address), "sequence": sequence(state, address)})
    params = auth_params.load(state)
    exported = {
        "auth": {"params": params.__dict__.copy(), "accounts": accounts},
        "bank": {"balances": [{"address": to_bech32(a), "coins": c} for a, c in sorted(balances.items())]},
        "validators": validators_genesis.export_genesis(state),
        "registry": registry_genesis.export_genesis(state),
    }
    bridge = bridge_genesis.export_genesis(state)
    if bridge is not None:  # chains without a bridge export what they imported: no section
        exported["bridge"] = bridge
    rounds = rounds_genesis.export_genesis(state)
    if rounds is not None:  # like the bridge: no section unless configured or used
        exported["rounds"] = rounds
    return exported
