"""The bridge's genesis section. A new chain gives params, the scan start and validators' EVM
addresses; valset 1 is then built from them (deploy the contract with it). An exported section also
carries counters, valsets, withdrawals, batches, confirmations and pending claims, and round-trips."""
from __future__ import annotations

import re
from dataclasses import asdict

from chain.bank import keeper as bank
from chain.bridge import keeper, keys, outgoing
from chain.bridge import params as bparams
from chain.tx.errors import InvalidGenesis
from chain.store.kv import prefix_end
from chain.tx.address import from_bech32, to_bech32
from chain.validators import keeper as validators

_HEX = re.compile(r"0x([0-9a-f]{2})*")


def _hex(text: str, length: int | None = None) -> bytes:
    if not isinstance(text, str) or not _HEX.fullmatch(text) or (length is not None and len(text) != 2 + 2 * length):
        raise InvalidGenesis(f"bridge: {text!r} is not 0x-prefixed lowercase hex" +
                             (f" of {length} bytes" if length else ""))
    return bytes.fromhex(text[2:])


def import_genesis(state, section: dict) -> None:
    params = bparams.BridgeParams(**section.get("params", {}))
    bparams.store(state, params)
    for entry in section.get("evm_addresses", []):
        operator, address = from_bech32(entry["operator"]), _hex(entry["evm_address"], 20)
        if validators.get(state, operator) is None:
            raise InvalidGenesis(f"bridge: {entry['operator']} is not a validator")
        if not any(address) or keeper.evm_address(state, operator) or keeper.operator_of(state, address):
            raise InvalidGenesis(f"bridge: EVM address of {entry['operator']} is zero or listed twice")
        keeper.set_evm_address(state, operator, address)
    if "state" not in section:
        keeper.store_state(state, keeper.BridgeState(last_evm_height=int(section.get("start_evm_height", 0))))
        outgoing.update_valset(state, 0)
        return
    keeper.store_state(state, keeper.BridgeState(**section["state"]))
    for d in section.get("denoms", []):
        keeper.put_denom(state, d["denom"], int(d["evm_chain_id"]), _hex(d["token"], 20), int(d["decimals"]))
    for v in section.get("valsets", []):
        keeper.put_valset(state, int(v["nonce"]), [(_hex(a, 20), int(p)) for a, p in v["members"]], int(v["height"]))
    for c in section.get("valset_confirms", []):
        state.set(keys.valset_confirm_key(int(c["nonce"]), from_bech32(c["operator"])), _hex(c["signature"], 65))
    owed: dict[str, int] = {}
    for w in section.get("withdrawals", []):
        record = {"id": int(w["id"]), "sender": from_bech32(w["sender"]).hex(), "token": w["token"], "denom": w["denom"],
                  "amount": str(int(w["amount"])), "recipient": w["recipient"], "batch": int(w["batch"])}
        keeper.put_withdrawal(state, record)
        if record["batch"] == 0:
            state.set(keys.queue_key(_hex(w["token"], 20), record["id"]), outgoing.QUEUED)
        owed[record["denom"]] = owed.get(record["denom"], 0) + int(record["amount"])
    for b in section.get("batches", []):
        keeper.put_batch(state, {"nonce": int(b["nonce"]), "token": b["token"], "valset_nonce": int(b["valset_nonce"]),
                                 "withdrawals": [int(i) for i in b["withdrawals"]], "height": int(b["height"])})
    for c in section.get("batch_confirms", []):
        state.set(keys.batch_confirm_key(int(c["nonce"]), from_bech32(c["operator"])), _hex(c["signature"], 65))
    for c in section.get("claims", []):
        claim = _hex(c["claim"])
        state.set(keys.claim_key(int(c["event_nonce"]), keeper.claim_hash(claim)), claim)
    for v in section.get("votes", []):
        state.set(keys.vote_key(int(v["event_nonce"]), from_bech32(v["operator"])), _hex(v["claim_hash"], 32))
    held = dict(bank.balances(state, keeper.ESCROW))
    if held != owed:
        raise InvalidGenesis(f"bridge escrow {to_bech32(keeper.ESCROW)} holds {held} but withdrawals owe {owed}")


def _confirm_rows(state, prefix: bytes) -> list[dict]:
    return [{"nonce": int.from_bytes(k[len(prefix):len(prefix) + 8], "big"), "operator": to_bech32(k[len(prefix) + 8:]),
             "signature": "0x" + v.hex()} for k, v in state.iterate(prefix, prefix_end(prefix))]


def export_genesis(state) -> dict | None:
    params = bparams.load(state)
    if params is None:
        return None
    return {
        "params": asdict(params),
        "evm_addresses": [{"operator": to_bech32(op), "evm_address": "0x" + a.hex()}
                          for op, a in keeper.all_evm_addresses(state)],
        "state": asdict(keeper.load_state(state)),
        "denoms": keeper.all_denoms(state),
        "valsets": [{"nonce": v["nonce"], "height": v["height"], "members": v["members"]} for v in keeper.all_valsets(state)],
        "valset_confirms": _confirm_rows(state, keys.VALSET_CONFIRM),
        "withdrawals": [{**w, "sender": to_bech32(bytes.fromhex(w["sender"]))} for w in keeper.all_withdrawals(state)],
        "batches": keeper.all_batches(state),
        "batch_confirms": _confirm_rows(state, keys.BATCH_CONFIRM),
        "claims": [{"event_nonce": int.from_bytes(k[len(keys.CLAIM):len(keys.CLAIM) + 8], "big"), "claim": "0x" + v.hex()}
                   for k, v in state.iterate(keys.CLAIM, prefix_end(keys.CLAIM))],
        "votes": [{"event_nonce": int.from_bytes(k[len(keys.VOTE):len(keys.VOTE) + 8], "big"),
                   "operator": to_bech32(k[len(keys.VOTE) + 8:]), "claim_hash": "0x" + v.hex()}
                  for k, v in state.iterate(keys.VOTE, prefix_end(keys.VOTE))],
    }
