"""auth queries (not consensus).

    /auth/account   address (20)   JSON {"address", "sequence"}
    /auth/params    -              JSON fee and size parameters
"""
from __future__ import annotations

from chain.auth import params as auth_params
from chain.auth.ante import sequence
from chain.bank.queries import address_data
from chain.tx.address import to_bech32
from chain.tx.errors import UnknownQuery
from chain.results import json_answer


def query(state, path: str, data: bytes) -> bytes:
    if path == "/auth/account":
        address = address_data(data)
        return json_answer({"address": to_bech32(address), "sequence": sequence(state, address)})
    if path == "/auth/params":
        return json_answer(auth_params.load(state).__dict__)
    raise UnknownQuery(f"unknown query path {path!r}; see docs/state.md")
