"""Operator-side genesis building: validator keys from node homes, encryption keys, app_state."""
from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from abci_app.settings import cometbft_home
from chain.tx.address import module_address, to_bech32

ENCRYPTION_KEY_FILE = "encryption_key.json"
BONDED_POOL = module_address("bonded_pool")


def consensus_pubkey(home: Path) -> bytes:
    """The node's Ed25519 validator key, from CometBFT's priv_validator_key.json."""
    key = json.loads((cometbft_home(home) / "config" / "priv_validator_key.json").read_text())
    if key["pub_key"]["type"] != "tendermint/PubKeyEd25519":
        raise ValueError(f"{home}: only Ed25519 validator keys are supported")
    return base64.b64decode(key["pub_key"]["value"])


def ensure_encryption_key(home: Path) -> bytes:
    """The node's X25519 key for sealed-update shares; created once, private part readable by owner only."""
    path = Path(home) / ENCRYPTION_KEY_FILE
    if not path.exists():
        private = X25519PrivateKey.generate()
        raw = private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                    serialization.NoEncryption())
        public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"type": "x25519", "private_key": raw.hex(), "public_key": public.hex()}, f, indent=2)
    return bytes.fromhex(json.loads(path.read_text())["public_key"])


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
