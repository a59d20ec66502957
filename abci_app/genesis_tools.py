"""Operator-side genesis building: validator keys from node homes, encryption keys, app_state."""
from __future__ import annotations

import base64
import json
from pathlib import Path

from abci_app import node_key
from abci_app.node_key import ENCRYPTION_KEY_FILE  # noqa: F401 - where callers look for the file name
from abci_app.settings import cometbft_home
from chain.tx.address import module_address, to_bech32

BONDED_POOL = module_address("bonded_pool")


def consensus_pubkey(home: Path) -> bytes:
    """The node's Ed25519 validator key, from CometBFT's priv_validator_key.json."""
    key = json.loads((cometbft_home(home) / "config" / "priv_validator_key.json").read_text())
    if key["pub_key"]["type"] != "tendermint/PubKeyEd25519":
        raise ValueError(f"{home}: only Ed25519 validator keys are supported")
    return base64.b64decode(key["pub_key"]["value"])


def ensure_encryption_key(home: Path, password: str | None = None) -> bytes:
    """The node's X25519 public key for sealed-update shares; the key pair is created once, encrypted with
    `password` (default: $GRADCHAIN_NODE_PASSWORD or the home's encryption_key_password_file)."""
    if password is None and not node_key.key_path(home).exists():
        password = node_key.password_from(home, _password_file(home))
    return node_key.ensure(home, password)


def _password_file(home: Path) -> str:
    from abci_app.settings import SettingsError, load_settings
    try:
        return load_settings(home).encryption_key_password_file
    except SettingsError:
        return ""


def app_state(preset: dict, balances: dict[bytes, dict[str, int]],
              validators: list[tuple[bytes, bytes, bytes, int]] = ()) -> dict:
    """balances: address -> {denom: amount}; validators: (operator, consensus key, encryption key, bond).
    The bonded pool is credited with the bonds, as the validators module requires."""
    bond_denom = preset.get("validators", {}).get("bond_denom", preset["auth"]["fee_denom"])
    balances = {a: dict(c) for a, c in balances.items()}
    total_bond = sum(bond for *_, bond in validators)
    if total_bond:
        pool = balances.setdefault(BONDED_POOL, {})
        pool[bond_denom] = pool.get(bond_denom, 0) + total_bond
    state = {
        "auth": {"params": dict(preset["auth"])},
        "bank": {"balances": [
            {"address": to_bech32(addr), "coins": [{"denom": d, "amount": str(a)} for d, a in sorted(coins.items())]}
            for addr, coins in sorted(balances.items())]},
    }
    if validators or "validators" in preset:
        state["validators"] = {
            "params": dict(preset.get("validators", {})),
            "validators": [{"operator": to_bech32(op), "consensus_pubkey": base64.b64encode(cons).decode(),
                            "encryption_pubkey": base64.b64encode(enc).decode(), "bond": str(bond)}
                           for op, cons, enc, bond in validators],
        }
    if "registry" in preset:
        state["registry"] = {"params": dict(preset["registry"])}
    return state
