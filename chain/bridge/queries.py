"""Bridge queries (JSON, not consensus): what orchestrators, relayers and users read."""
from __future__ import annotations

from dataclasses import asdict

from chain.bridge import evm, keeper, keys
from chain.bridge import params as bparams
from chain.bridge.errors import BridgeNotConfigured
from chain.tx.errors import InvalidQuery, UnknownQuery
from chain.store.kv import prefix_end
from chain.tx.address import to_bech32

PATHS = ("/bridge/params", "/bridge/state", "/bridge/orchestrators", "/bridge/valsets", "/bridge/batches",
         "/bridge/withdrawals", "/bridge/denoms", "/bridge/votes")


def _confirm_rows(state, prefix: bytes, nonce: int) -> list[dict]:
    rows = []
    for operator, signature in keeper.confirms(state, prefix, nonce):
        address = keeper.evm_address(state, operator)
        rows.append({"operator": to_bech32(operator), "evm_address": "0x" + address.hex(),
                     "signature": "0x" + signature.hex()})
    return rows


def json_query(state, path: str, data: bytes) -> dict:
    params = bparams.load(state)
    if params is None:
        raise BridgeNotConfigured("this chain has no bridge")
    record = keeper.load_state(state)
    if path == "/bridge/params":
        return asdict(params)
    if path == "/bridge/state":
        return {**asdict(record), "total_power": keeper.total_power(state)}
    if path == "/bridge/orchestrators":
        return {"orchestrators": [{"operator": to_bech32(op), "evm_address": "0x" + a.hex(),
                                   "power": keeper.power_of(state, op)} for op, a in keeper.all_evm_addresses(state)]}
    if path == "/bridge/valsets":
        # the valset the contract mirrors and every newer one, with their signatures (by the previous set)
        rows = []
        for v in keeper.all_valsets(state, max(record.contract_valset_nonce, 1)):
            digest = evm.valset_digest(params.contract_bytes, params.evm_chain_id, v["nonce"], keeper.valset_members(v))
            rows.append({**v, "digest": "0x" + digest.hex(),
                         "confirms": _confirm_rows(state, keys.VALSET_CONFIRM, v["nonce"])})
        return {"contract_valset_nonce": record.contract_valset_nonce, "valsets": rows}
    if path == "/bridge/batches":
        rows = []
        for b in keeper.all_batches(state):
            transfers = keeper.batch_transfers(state, b)
            digest = evm.batch_digest(params.contract_bytes, params.evm_chain_id, bytes.fromhex(b["token"][2:]),
                                      b["nonce"], b["valset_nonce"], transfers)
            rows.append({**b, "transfers": [["0x" + r.hex(), str(a)] for r, a in transfers],
                         "digest": "0x" + digest.hex(), "confirms": _confirm_rows(state, keys.BATCH_CONFIRM, b["nonce"])})
        return {"batches": rows}
    if path == "/bridge/withdrawals":
        rows = keeper.all_withdrawals(state)
        if data:
            if len(data) != 20:
                raise InvalidQuery("/bridge/withdrawals takes no data or a 20-byte sender address")
            rows = [w for w in rows if w["sender"] == data.hex()]
        return {"withdrawals": [{**w, "sender": to_bech32(bytes.fromhex(w["sender"]))} for w in rows]}
    if path == "/bridge/denoms":
        return {"denoms": keeper.all_denoms(state)}
    if path == "/bridge/votes":
        # pending (not yet attested) votes, so an orchestrator knows what it already claimed
        rows = []
        for k, v in state.iterate(keys.VOTE, prefix_end(keys.VOTE)):
            rows.append({"event_nonce": int.from_bytes(k[len(keys.VOTE):len(keys.VOTE) + 8], "big"),
                         "operator": to_bech32(k[len(keys.VOTE) + 8:]), "claim_hash": "0x" + v.hex()})
        return {"last_event_nonce": record.last_event_nonce, "votes": rows}
    raise UnknownQuery(f"unknown bridge query path {path!r}; known: {', '.join(PATHS)}")
