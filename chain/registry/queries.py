"""Registry queries (not consensus). Ids, versions and indices in query data are 8-byte big-endian.

    /registry/params                      JSON params
    /registry/models                      JSON {"models": [summary, ...]} by id
    /registry/model     id                JSON model record with escrow, status, head version, rounds
    /registry/versions  id                JSON {"model_id", "head_version", "versions": [... with scores per round]}
    /registry/weights   id + version      raw canonical weight bytes of that version
    /registry/spec      id                raw spec bytes (provable: a single state key)
    /registry/shard     id + shard index  raw revealed shard bytes, empty if not revealed (provable)
"""
from __future__ import annotations

from dataclasses import asdict

from chain.registry.errors import UnknownModel, UnknownVersion
from chain.tx.errors import InvalidQuery, UnknownQuery
from chain.registry import keeper, keys
from chain.registry import params as rparams
from chain.registry.model import ACTIVE, Model
from chain.tx.address import to_bech32
from chain.results import json_answer

PATHS = ("/registry/params", "/registry/models", "/registry/model", "/registry/versions", "/registry/weights",
         "/registry/spec", "/registry/shard")


def _ids(data: bytes, count: int, what: str) -> tuple[int, ...]:
    if len(data) != 8 * count:
        raise InvalidQuery(f"query data must be {what}, each 8-byte big-endian")
    return tuple(int.from_bytes(data[8 * i:8 * i + 8], "big") for i in range(count))


def provable_key(path: str, data: bytes) -> bytes | None:
    if path == "/registry/spec":
        return keys.spec_key(*_ids(data, 1, "a model id"))
    if path == "/registry/shard":
        return keys.shard_key(*_ids(data, 2, "a model id and a shard index"))
    return None


def _model(state, model_id: int) -> Model:
    model = keeper.get_model(state, model_id)
    if model is None:
        raise UnknownModel(f"no model {model_id}")
    return model


def model_view(state, model: Model, next_height: int) -> dict:
    scored = {v["version"]: {r for r, _ in keeper.scores(state, model.id, v["version"])}
              for v in keeper.versions(state, model.id)}
    rounds = [{"round": r, "shard_index": rec["shard_index"], "revealed_height": rec["height"],
               "version": rec["version"], "scored": r in scored.get(rec["version"], set())}
              for r, rec in keeper.reveals(state, model.id)]
    view = {**model.record(), "owner": to_bech32(model.owner_bytes), "chunk_count": model.chunk_count,
            "escrow_address": to_bech32(keeper.ESCROW), "rounds": rounds,
            "current_round": model.current_round(next_height)}
    if model.status == ACTIVE:
        view["first_round_start"] = model.first_round_start
    view["progress_bps"] = _progress_bps(model)
    return view


def _progress_bps(model: Model) -> int | None:
    """How far the paid gains have taken the model from version 0's first score toward its target, in basis
    points (None until a round has closed; 10000 once reached; a target met from the start counts as 10000)."""
    if model.initial_score is None:
        return None
    span = (model.target_score - model.initial_score if model.metric == "accuracy"
            else model.initial_score - model.target_score)
    if span <= 0:
        return 10_000
    return min(max(model.gained, 0), span) * 10_000 // span


def query(state, path: str, data: bytes) -> bytes:
    next_height = getattr(state, "height", 0) + 1  # where a tx sent now would land
    if path == "/registry/params":
        return json_answer(asdict(rparams.load(state)))
    if path == "/registry/models":
        return json_answer({"models": [{"id": m.id, "owner": to_bech32(m.owner_bytes), "status": m.status,
                                  "metric": m.metric, "bounty": f"{m.escrow}{m.bounty_denom}",
                                  "head_version": m.head_version, "expiry_height": m.expiry_height}
                                 for m in keeper.all_models(state)]})
    if path == "/registry/model":
        return json_answer(model_view(state, _model(state, *_ids(data, 1, "a model id")), next_height))
    if path == "/registry/versions":
        model = _model(state, *_ids(data, 1, "a model id"))
        rows = [{**v, "scores": [{"round": r, **s} for r, s in keeper.scores(state, model.id, v["version"])]}
                for v in keeper.versions(state, model.id)]
        return json_answer({"model_id": model.id, "metric": model.metric, "head_version": model.head_version,
                      "versions": rows})
    if path == "/registry/weights":
        model_id, version = _ids(data, 2, "a model id and a version")
        _model(state, model_id)
        if keeper.get_version(state, model_id, version) is None:
            raise UnknownVersion(f"model {model_id} has no version {version} (yet)")
        return keeper.weights_bytes(state, model_id, version)
    raise UnknownQuery(f"unknown registry query path {path!r}; known: {', '.join(PATHS)}")
