"""Validators' genesis section. Bonds are not minted here: the bonded pool's bank balance must hold
exactly the bonds (and queued releases), so export -> import round-trips without double counting."""
from __future__ import annotations

import base64
from dataclasses import asdict

from chain.bank import keeper as bank
from chain.codec import decode_uint
from chain.tx.errors import InvalidGenesis
from chain.results import ValidatorUpdate
from chain.sealing.valset import is_usable_x25519_key
from chain.store.kv import prefix_end
from chain.tx.address import from_bech32, to_bech32
from chain.validators import keeper, keys, penalties, params as vparams
from chain.validators.keeper import ACTIVE, BONDED_POOL, TOMBSTONED, UNBONDING, Validator


def import_genesis(state, section: dict) -> None:
    params = vparams.ValidatorParams(**section.get("params", {}))
    vparams.store(state, params)
    for entry in section.get("validators", []):
        operator = from_bech32(entry["operator"])
        consensus = base64.b64decode(entry["consensus_pubkey"], validate=True)
        encryption = base64.b64decode(entry["encryption_pubkey"], validate=True)
        if len(consensus) != 32 or len(encryption) != 32:
            raise InvalidGenesis(f"validator {entry['operator']}: keys must be 32 bytes")
        if not is_usable_x25519_key(encryption):
            raise InvalidGenesis(f"validator {entry['operator']}: encryption_pubkey is a low-order X25519 point "
                                 "(all-zero shared secrets)")
        status = entry.get("status", ACTIVE)
        if status not in (ACTIVE, UNBONDING, TOMBSTONED):
            raise InvalidGenesis(f"validator {entry['operator']}: unknown status {status!r}")
        if keeper.get(state, operator) or keeper.by_consensus_address(state, keeper.consensus_address(consensus)):
            raise InvalidGenesis(f"validator {entry['operator']} or its consensus key listed twice")
        validator = Validator(operator.hex(), consensus.hex(), encryption.hex(), int(entry["bond"]), status)
        if status == ACTIVE and validator.power(params) == 0:
            raise InvalidGenesis(f"validator {entry['operator']}: bond gives zero power")
        keeper.put(state, validator, params, power_changed=False)
    for entry in section.get("unbonding", []):
        keeper.schedule_release(state, int(entry["release_height"]), from_bech32(entry["operator"]),
                                int(entry["amount"]))
    for entry in section.get("withholdings", []):
        count = entry.get("count")
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise InvalidGenesis(f"withholdings of {entry.get('operator')}: count must be a positive integer")
        penalties.set_withholdings(state, from_bech32(entry["operator"]), count)
    owed = bonded_total(state)
    held = bank.balance(state, BONDED_POOL, params.bond_denom)
    if owed != held:
        raise InvalidGenesis(f"bonded pool {to_bech32(BONDED_POOL)} holds {held}{params.bond_denom} but "
                             f"bonds and releases add up to {owed}")


def bonded_total(state) -> int:
    """What the bonded pool owes: active bonds plus queued releases."""
    active = sum(v.bond for v in keeper.all_validators(state) if v.status == ACTIVE)
    queued = sum(decode_uint(v) for _, v in state.iterate(keys.UNBONDING, prefix_end(keys.UNBONDING)))
    return active + queued


def initial_validators(state) -> tuple[ValidatorUpdate, ...]:
    params = vparams.load(state)
    return tuple(ValidatorUpdate(bytes.fromhex(v.consensus_pubkey), v.power(params))
                 for v in sorted(keeper.all_validators(state), key=lambda v: v.consensus_pubkey)
                 if v.power(params) > 0)


def export_genesis(state) -> dict:
    params = vparams.load(state)
    validators = [{"operator": to_bech32(v.operator_bytes),
                   "consensus_pubkey": base64.b64encode(bytes.fromhex(v.consensus_pubkey)).decode(),
                   "encryption_pubkey": base64.b64encode(bytes.fromhex(v.encryption_pubkey)).decode(),
                   "bond": str(v.bond), "status": v.status} for v in keeper.all_validators(state)]
    unbonding = [{"release_height": int.from_bytes(k[len(keys.UNBONDING):len(keys.UNBONDING) + 8], "big"),
                  "operator": to_bech32(k[len(keys.UNBONDING) + 8:]), "amount": str(decode_uint(v))}
                 for k, v in state.iterate(keys.UNBONDING, prefix_end(keys.UNBONDING))]
    withheld = [{"operator": to_bech32(op), "count": n} for op, n in penalties.all_withholdings(state)]
    return {"params": asdict(params), "validators": validators, "unbonding": unbonding, "withholdings": withheld}
