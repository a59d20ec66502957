"""Every module's named invariants, checkable at any height (tests check them after every block).
Each module declares its own in `chain/<module>/invariants.py`."""
from __future__ import annotations

from chain.bank.invariants import INVARIANTS as BANK
from chain.bridge.invariants import INVARIANTS as BRIDGE
from chain.registry.invariants import INVARIANTS as REGISTRY
from chain.rounds.invariants import INVARIANTS as ROUNDS
from chain.validators.invariants import INVARIANTS as VALIDATORS

ALL = {**BANK, **VALIDATORS, **BRIDGE, **REGISTRY, **ROUNDS}


def check_all(state) -> list[str]:
    return [f"{name}: {p}" for name, check in ALL.items() for p in check(state)]
