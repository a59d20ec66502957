"""Genesis import and export: the chain id, then each module's section (`chain/<module>/genesis.py`).
`export_genesis(import_genesis(g)) == g` for a canonical g."""
from __future__ import annotations

import binascii

from chain.auth import genesis as auth_genesis
from chain.bank import genesis as bank_genesis
from chain.bridge import genesis as bridge_genesis
from chain.registry import genesis as registry_genesis
from chain.rounds import genesis as rounds_genesis
from chain.tx.errors import ChainError, InvalidGenesis
from chain.validators import genesis as validators_genesis

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
        auth_genesis.import_genesis(state, app_state.get("auth", {}))
        bank_genesis.import_genesis(state, app_state.get("bank", {}))
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
    exported = {
        "auth": auth_genesis.export_genesis(state),
        "bank": bank_genesis.export_genesis(state),
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
