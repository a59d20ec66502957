"""What the state machine hands back to the transport layer. Plain data, no protobuf."""
from __future__ import annotations

import json
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Misbehavior:
    """Evidence CometBFT reports in a block (e.g. a validator signed two different votes)."""
    kind: str  # "duplicate_vote" | "light_client_attack"
    validator_address: bytes  # CometBFT consensus address: SHA-256(ed25519 public key)[:20]
    height: int


@dataclass(frozen=True)
class BlockContext:
    """Everything a block may read from outside the state. Comes from the CometBFT block header."""
    chain_id: str
    height: int
    time_seconds: int  # block time, seconds since the Unix epoch (from the header, agreed by consensus)
    time_nanos: int
    proposer: bytes  # proposer's CometBFT address (20 bytes)
    misbehavior: tuple[Misbehavior, ...] = ()
    block_hash: bytes = b""  # this block's header hash (RequestFinalizeBlock.hash): aggregate-mode cohort seeds


@dataclass(frozen=True)
class Event:
    type: str
    attributes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class TxResult:
    code: int = 0
    codespace: str = ""
    log: str = ""
    data: bytes = b""  # canonical bytes only: CometBFT hashes code, data and gas into the block
    gas_wanted: int = 0
    gas_used: int = 0
    events: tuple[Event, ...] = ()


@dataclass(frozen=True)
class ValidatorUpdate:
    ed25519_public_key: bytes
    power: int


@dataclass(frozen=True)
class BlockResult:
    tx_results: tuple[TxResult, ...]
    app_hash: bytes
    events: tuple[Event, ...] = ()
    validator_updates: tuple[ValidatorUpdate, ...] = ()


@dataclass(frozen=True)
class QueryResult:
    code: int = 0
    codespace: str = ""
    log: str = ""
    key: bytes = b""
    value: bytes = b""
    proof: bytes | None = None  # chain.tx.proof encoding; set only when the query asked for a proof
    height: int = 0


@dataclass(frozen=True)
class InitResult:
    app_hash: bytes
    validators: tuple[ValidatorUpdate, ...] = field(default=())


def json_answer(obj) -> bytes:
    """A JSON query answer: sorted keys, no spaces (queries are not consensus, but every node answers alike)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()
