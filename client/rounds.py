"""Read helpers for rounds, for trainers and anyone watching a model (docs/rounds.md, "Queries"):

    round_info(client, model_id, round_)          # window, sealing set, submissions, close results
    submission(client, model_id, round_, seq)     # one submission record (status, score, outcome, payout)
    leaderboard(client, model_id)                 # trainers ranked by earnings, and each closed round
    earnings(client, address)                     # one trainer's payouts and forfeits per denom
    open_models(client)                           # active models with unspent bounty: what can be earned

    payload(client, model_id, round_, seq, which) # raw envelope or opened update, proved; raises
                                                  # PayloadPrunedError once the round's payloads were pruned

and the owner's shard file for `gradchain tx reveal` (save_shards / load_shards), plus check_update, the
local check of a delta's format that `gradchain tx submit-update` runs before paying a deposit.
Failed queries raise client.TxFailed with the chain's code (e.g. registry/1 UnknownModel).
"""
from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import TypedDict

from chain.codec import u64
from chain.rounds.errors import UpdateDecodeError, UpdateOutOfRange, UpdateShapeMismatch
from chain.scoring.errors import SpecDecodeError
from chain.tx.errors import ChainError
from chain.scoring.fixedpoint import signed_range
from chain.scoring.shards import merkle_root, shard_hash
from chain.scoring.spec import ModelSpec, linear_layers
from chain.scoring.tensor import decode_message
from chain.tx.address import from_bech32
from client.client import Client
from client.errors import GradchainError, TxFailed
from client.model import ShardSet
from client.owner import model, models
from client.trainer import round_info, submission

SHARDS_FORMAT = "gradchain-shards-v1"


class OpenModel(TypedDict):
    id: int
    owner: str
    metric: str
    bounty: str              # unspent bounty (the registry escrow), decimal string
    bounty_denom: str
    paid: str                # paid out so far
    head_version: int
    current_round: int | None
    deposit: str             # per submitted update
    deposit_denom: str
    target_score: int
    min_improvement: int
    round_blocks: int
    expiry_height: int


def _address(address: str | bytes) -> bytes:
    if isinstance(address, bytes):
        if len(address) != 20:
            raise GradchainError("an address is 20 bytes")
        return address
    try:
        return from_bech32(address)
    except Exception as e:  # noqa: BLE001 - any decoding failure means the same thing to the user
        raise GradchainError(f"{address!r} is not a gradchain address (grad1...): {e}") from None


def leaderboard(client: Client, model_id: int) -> dict:
    """/rounds/leaderboard: the model's payout totals, trainers ranked by what they earned (earned,
    submissions, accepted, harmful, invalid, forfeited) and every round with its close result."""
    return client.query_json("/rounds/leaderboard", u64(model_id))


def earnings(client: Client, address: str | bytes) -> dict:
    """/rounds/earnings: what one trainer earned and forfeited per denom, and each of its submissions."""
    return client.query_json("/rounds/earnings", _address(address))


def open_models(client: Client) -> list[OpenModel]:
    """ACTIVE models whose bounty is not spent yet, by id, with the terms a trainer needs."""
    out: list[OpenModel] = []
    for row in models(client):
        if row["status"] != "active":
            continue
        record = model(client, row["id"])
        if record["status"] != "active" or int(record["escrow"]) <= 0:
            continue
        out.append(OpenModel(id=record["id"], owner=record["owner"], metric=record["metric"],
                             bounty=record["escrow"], bounty_denom=record["bounty_denom"], paid=record["paid"],
                             head_version=record["head_version"], current_round=record["current_round"],
                             deposit=record["deposit"], deposit_denom=record["deposit_denom"],
                             target_score=record["target_score"], min_improvement=record["min_improvement"],
                             round_blocks=record["round_blocks"], expiry_height=record["expiry_height"]))
    return out


# --- a delta's format, checked before paying the deposit --------------------------------------------------
class PayloadPrunedError(TxFailed):
    """rounds/12 PayloadPruned: the round settled and its retention window (payload_retention_blocks)
    passed, so the chain deleted the envelope / plaintext. The submission record (/rounds/submission) keeps
    the envelope and plaintext hashes; keep your own copy if you need the bytes."""


_PAYLOAD_PATHS = {"envelope": ("/rounds/envelope", b"rnd/e/"), "update": ("/rounds/update", b"rnd/u/")}


def payload(client: Client, model_id: int, round_: int, seq: int, which: str = "envelope",
            prove: bool = True) -> bytes | None:
    """A submission's raw envelope (`which="envelope"`) or opened update plaintext (`"update"`), checked
    with a Merkle proof against a signed header when `prove`; None if there is none (yet). Raises
    PayloadPrunedError (a TxFailed, code rounds/12) if the chain pruned it."""
    if which not in _PAYLOAD_PATHS:
        raise GradchainError(f"which must be one of {sorted(_PAYLOAD_PATHS)}, not {which!r}")
    path, prefix = _PAYLOAD_PATHS[which]
    response = client.rpc.abci_query(path, u64(model_id, round_, seq), prove=prove)
    code = int(response.get("code", 0))
    if code:
        space, log = response.get("codespace", ""), response.get("log", "")
        if (space, code) == ("rounds", 12):
            raise PayloadPrunedError(space, code, f"{which} of submission {model_id}/{round_}/{seq} is no longer "
                                     f"stored; only its hash remains in /rounds/submission ({log})")
        raise TxFailed(space, code, log)
    key = base64.b64decode(response.get("key") or "")
    value = base64.b64decode(response.get("value") or "")
    if key != prefix + u64(model_id, round_, seq):
        raise GradchainError("node answered for a different state key than asked")
    if prove:
        client.verify_query_proof(response, key, value or None)
    return value or None


def check_update(spec_bytes: bytes, update: bytes) -> None:
    """The checks of docs/rounds.md "Update format" that need only the model's spec: a canonical Weights
    message, the spec's tensor count and shapes, and no delta value wider than its range. The chain also
    checks parent + delta against the range (rounds/9), which needs the parent's weights. Raises
    GradchainError naming the code the chain would give (the update would be INVALID and forfeit)."""
    from chain.rounds.delta import decode_delta
    if not spec_bytes:
        raise GradchainError("the model has no spec on chain (unknown model?)")
    try:
        spec = decode_message(ModelSpec, spec_bytes, SpecDecodeError)
        delta = decode_delta(update)
        shapes = []
        ranges = []
        for layer in linear_layers(spec):
            shapes += [(layer.out_features, layer.in_features), (layer.out_features,)]
            ranges += [signed_range(spec.weight_format.bits), signed_range(spec.bias_bits)]
        if len(delta) != len(shapes):
            raise UpdateShapeMismatch(f"expected {len(shapes)} delta tensors, got {len(delta)}")
        for i, (d, shape, (lo, hi)) in enumerate(zip(delta, shapes, ranges)):
            if d.shape != shape:
                raise UpdateShapeMismatch(f"delta tensor {i} has shape {d.shape}, the model's is {shape}")
            if d.size and (int(d.min()) < lo - hi or int(d.max()) > hi - lo):
                raise UpdateOutOfRange(f"delta tensor {i} leaves [{lo}, {hi}] from any parent value")
    except (UpdateDecodeError, UpdateShapeMismatch, UpdateOutOfRange) as e:
        raise GradchainError(f"the update would be INVALID and forfeit its deposit: {type(e).__name__} "
                             f"({e.codespace}/{e.code}): {e}") from None
    except ChainError as e:
        raise GradchainError(f"cannot read the model's spec: {type(e).__name__}: {e}") from None


# --- the owner's validation shards, in a file -----------------------------------------------------------
def save_shards(shard_set: ShardSet, path: str | Path) -> None:
    """Write the hidden validation shards (Owner.register's `shards`) for `gradchain tx reveal`: JSON
    {"format", "root" (hex), "shards" (base64 of each canonical shard)}. Keep the file private."""
    record = {"format": SHARDS_FORMAT, "root": shard_set.root.hex(),
              "shards": [base64.b64encode(s).decode() for s in shard_set.shards]}
    Path(path).write_text(json.dumps(record, indent=1) + "\n")


def load_shards(path: str | Path) -> ShardSet:
    """Read a save_shards file; the Merkle root is recomputed from the shards and must match."""
    try:
        record = json.loads(Path(path).read_text())
        if record.get("format") != SHARDS_FORMAT:
            raise ValueError(f"format is {record.get('format')!r}, expected {SHARDS_FORMAT!r}")
        shards = [base64.b64decode(s, validate=True) for s in record["shards"]]
        root = bytes.fromhex(record["root"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise GradchainError(f"{path} is not a shards file written by client.rounds.save_shards: {e}") from None
    if not shards:
        raise GradchainError(f"{path} holds no shards")
    hashes = [shard_hash(s) for s in shards]
    if merkle_root(hashes) != root:
        raise GradchainError(f"{path}: the shards do not hash to the root the file records (altered file?)")
    return ShardSet(shards=shards, hashes=hashes, root=root)


__all__ = ["OpenModel", "PayloadPrunedError", "payload", "round_info", "submission", "leaderboard", "earnings", "open_models", "check_update",
           "save_shards", "load_shards"]
