"""Every stored record type of the chain, for docs/state.md and the codec tests. Raw values (balances,
sequences, specs, shards, weight chunks, envelopes, shares, plaintexts, index markers) are listed in
docs/state.md's key tables."""
from __future__ import annotations

from chain.auth.params import AuthParamsRecord
from chain.bridge import records as bridge
from chain.bridge.params import BridgeParamsRecord
from chain.record import Record
from chain.registry import records as registry
from chain.registry.params import RegistryParamsRecord
from chain.rounds import records as rounds
from chain.rounds.params import RoundsParamsRecord
from chain.validators.keeper import ValidatorRecord
from chain.validators.params import ValidatorParamsRecord


def _declared_in(module) -> list[type[Record]]:
    return [v for v in vars(module).values()
            if isinstance(v, type) and issubclass(v, Record) and v.__module__ == module.__name__]


def record_types() -> list[type[Record]]:
    """In module order, then in the order each module declares them."""
    return [AuthParamsRecord, ValidatorParamsRecord, ValidatorRecord, RegistryParamsRecord, *_declared_in(registry),
            RoundsParamsRecord, *_declared_in(rounds), BridgeParamsRecord, *_declared_in(bridge)]
