"""ABCI queries over the last committed state. Not consensus: JSON answers are for people and the SDK.
Only `/store`, `/bank/balance`, `/registry/spec` and `/registry/shard` answer with one raw stored value, so
they can carry a Merkle proof; `/registry/weights` answers with raw bytes assembled from chunks."""
from __future__ import annotations

import json

from chain.auth import params as auth_params
from chain.auth.ante import sequence
from chain.bank import keeper as bank
from chain.bank.keys import balance_key
from chain.bridge import queries as bridge_queries
from chain.tx.errors import InvalidQuery, UnknownQuery
from chain.registry import queries as registry_queries
from chain.rounds import queries as rounds_queries
from chain.tx.address import to_bech32
from chain.tx.coins import validate_denom
from chain.validators import keeper as validators_keeper
from chain.validators import params as vparams


def _address(data: bytes) -> bytes:
    if len(data) != 20:
        raise InvalidQuery("query data must be a 20-byte address")
    return data


def _json(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def provable_key(path: str, data: bytes) -> bytes | None:
    """The state key a provable query reads, or None if the path answers in JSON."""
    if path == "/store":
        if not data:
            raise InvalidQuery("/store needs a key")
        return data
    if path == "/bank/balance":
        address, denom = _address(data[:20]), data[20:].decode("utf-8", errors="replace")
        validate_denom(denom)
        return balance_key(address, denom)
    if path in ("/registry/spec", "/registry/shard"):
        return registry_queries.provable_key(path, data)
    if path in ("/rounds/envelope", "/rounds/update"):
        return rounds_queries.provable_key(path, data)
    return None


def json_query(state, path: str, data: bytes) -> bytes:
    if path == "/bank/balances":
        address = _address(data)
        return _json({"address": to_bech32(address),
                      "balances": [{"denom": d, "amount": str(a)} for d, a in bank.balances(state, address)]})
    if path == "/bank/supply":
        return _json({"supply": [{"denom": d, "amount": str(a)} for d, a in bank.all_supply(state)]})
    if path == "/auth/account":
        address = _address(data)
        return _json({"address": to_bech32(address), "sequence": sequence(state, address)})
    if path == "/auth/params":
        return _json(auth_params.load(state).__dict__)
    if path == "/validators":
        params = vparams.load(state)
        return _json({"validators": [
            {"operator": to_bech32(v.operator_bytes), "consensus_pubkey": v.consensus_pubkey,
             "encryption_pubkey": v.encryption_pubkey, "bond": str(v.bond), "status": v.status,
             "power": v.power(params)} for v in validators_keeper.all_validators(state)]})
    if path == "/validators/params":
        return _json(vparams.load(state).__dict__)
    if path.startswith("/bridge/"):
        return _json(bridge_queries.json_query(state, path, data))
    if path.startswith("/registry/"):
        return registry_queries.query(state, path, data)  # JSON, except /registry/weights: raw bytes
    if path.startswith("/rounds/"):
        return rounds_queries.query(state, path, data)
    raise UnknownQuery(f"unknown query path {path!r}; see docs/queries.md")
