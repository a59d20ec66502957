"""ABCI queries over the last committed state, routed to the module that owns the path's prefix
(`chain/<module>/queries.py`). Not consensus: JSON answers are for people and the SDK. Only `/store`,
`/bank/balance`, `/registry/spec`, `/registry/shard`, `/rounds/envelope` and `/rounds/update` answer with
one raw stored value, so they can carry a Merkle proof; `/registry/weights` answers with raw bytes
assembled from chunks."""
from __future__ import annotations

from chain.auth import queries as auth
from chain.bank import queries as bank
from chain.bridge import queries as bridge
from chain.registry import queries as registry
from chain.rounds import queries as rounds
from chain.tx.errors import InvalidQuery, UnknownQuery
from chain.validators import queries as validators
from chain.results import json_answer


def provable_key(path: str, data: bytes) -> bytes | None:
    """The state key a provable query reads, or None if the path answers in JSON."""
    if path == "/store":
        if not data:
            raise InvalidQuery("/store needs a key")
        return data
    if path == "/bank/balance":
        return bank.provable_key(path, data)
    if path in ("/registry/spec", "/registry/shard"):
        return registry.provable_key(path, data)
    if path in ("/rounds/envelope", "/rounds/update"):
        return rounds.provable_key(path, data)
    return None


def check_provable(state, path: str, data: bytes) -> None:
    """Raise the owning module's error if a provable path's value is gone for good (a pruned payload)."""
    if path in ("/rounds/envelope", "/rounds/update"):
        rounds.check_provable(state, path, data)


def json_query(state, path: str, data: bytes) -> bytes:
    if path.startswith("/bank/"):
        return bank.query(state, path, data)
    if path.startswith("/auth/"):
        return auth.query(state, path, data)
    if path == "/validators" or path.startswith("/validators/"):
        return validators.query(state, path, data)
    if path.startswith("/bridge/"):
        return json_answer(bridge.json_query(state, path, data))
    if path.startswith("/registry/"):
        return registry.query(state, path, data)  # JSON, except /registry/weights: raw bytes
    if path.startswith("/rounds/"):
        return rounds.query(state, path, data)
    raise UnknownQuery(f"unknown query path {path!r}; see docs/state.md")
