"""auth queries (not consensus).

    /auth/account   address (20)   JSON {"address", "sequence"}
    /auth/params    -              JSON fee and size parameters
"""
from __future__ import annotations

import json

from chain.auth import params as auth_params
from chain.auth.ante import sequence
from chain.bank.queries import address_data
from chain.tx.address import to_bech32
from chain.tx.errors import UnknownQuery


def _json(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def query(state, path: str, data: bytes) -> bytes:
    if path == "/auth/account":
        address = address_data(data)
        return _json({"address": to_bech32(address), "sequence": sequence(state, address)})
    if path == "/auth/params":
        return _json(auth_params.load(state).__dict__)
    raise UnknownQuery(f"unknown query path {path!r}; see docs/state.md")
