"""validators queries (not consensus).

    /validators          -   JSON {"validators": [{"operator", "consensus_pubkey", "encryption_pubkey", "bond",
                                                   "status", "power"}]}
    /validators/params   -   JSON params
"""
from __future__ import annotations

from chain.tx.address import to_bech32
from chain.tx.errors import UnknownQuery
from chain.validators import keeper
from chain.validators import params as vparams
from chain.results import json_answer


def query(state, path: str, data: bytes) -> bytes:
    if path == "/validators":
        params = vparams.load(state)
        return json_answer({"validators": [
            {"operator": to_bech32(v.operator_bytes), "consensus_pubkey": v.consensus_pubkey,
             "encryption_pubkey": v.encryption_pubkey, "bond": str(v.bond), "status": v.status,
             "power": v.power(params)} for v in keeper.all_validators(state)]})
    if path == "/validators/params":
        return json_answer(vparams.load(state).__dict__)
    raise UnknownQuery(f"unknown query path {path!r}; see docs/state.md")
