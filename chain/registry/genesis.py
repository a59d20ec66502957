"""The registry's genesis section: params, counters, every model with its spec, versions (weights and
scores), revealed shards, an unfinished upload's chunks, and the scoring queue. Export -> import
round-trips; the escrow account's bank balance must equal what open models are owed."""
from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import asdict, fields

from chain.bank import keeper as bank
from chain.tx.errors import ChainError, InvalidGenesis
from chain.registry import keeper
from chain.registry import params as rparams
from chain.registry.model import ACTIVE, CLOSED, UPLOADING, Model
from chain.scoring.spec import load_spec, spec_hash
from chain.tx.address import from_bech32, to_bech32

_MODEL_FIELDS = {f.name for f in fields(Model)}
_EXTRA = ("spec", "versions", "upload_chunks", "reveals")


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, TypeError):
        raise InvalidGenesis(f"registry: {str(text)[:40]!r} is not base64") from None


def _enc(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def import_genesis(state, section: dict) -> None:
    rparams.store(state, rparams.RegistryParams(**section.get("params", {})))
    keeper.set_counters(state, int(section.get("next_model_id", 1)))
    for entry in section.get("models", []):
        _import_model(state, entry)
    owed: dict[str, int] = {}
    for model in keeper.all_models(state):
        if model.status != CLOSED:
            for denom, amount in keeper.owed(model):
                owed[denom] = owed.get(denom, 0) + amount
    held = dict(bank.balances(state, keeper.ESCROW))
    if held != owed:
        raise InvalidGenesis(f"registry escrow {to_bech32(keeper.ESCROW)} holds {held} but open models are owed {owed}")


def _import_model(state, entry: dict) -> None:
    unknown = set(entry) - _MODEL_FIELDS - set(_EXTRA)
    if unknown:
        raise InvalidGenesis(f"registry: unknown model fields {sorted(unknown)}")
    record = {k: v for k, v in entry.items() if k in _MODEL_FIELDS}
    model = Model(**{**record, "owner": from_bech32(record["owner"]).hex()})
    if model.status not in (UPLOADING, ACTIVE, CLOSED) or keeper.get_model(state, model.id) is not None:
        raise InvalidGenesis(f"registry: model {model.id} has status {model.status!r} or is listed twice")
    if model.id >= keeper.counters(state)["next_model_id"]:
        raise InvalidGenesis(f"registry: model id {model.id} is not below next_model_id")
    spec_raw = _b64(entry["spec"])
    try:
        spec = load_spec(spec_raw, 1 << 62)
    except ChainError as e:
        raise InvalidGenesis(f"registry: model {model.id} spec: {e}") from None
    if spec_hash(spec).hex() != model.spec_hash:
        raise InvalidGenesis(f"registry: model {model.id} spec does not match its spec_hash")
    keeper.put_spec(state, model.id, spec_raw)
    keeper.put_model(state, model)
    if model.status != CLOSED:
        keeper.index_expiry(state, model)
        keeper.index_owner(state, model)
    for chunk in entry.get("upload_chunks", []):
        keeper.put_chunk(state, model.id, 0, int(chunk["index"]), _b64(chunk["data"]))
    for v in entry.get("versions", []):
        raw = _b64(v["weights"])
        if hashlib.sha256(raw).hexdigest() != v["weights_hash"]:
            raise InvalidGenesis(f"registry: model {model.id} version {v['version']} weights do not match their hash")
        keeper.put_weights(state, model.id, int(v["version"]), raw, model.chunk_size)
        keeper.put_version(state, model.id, {k: v[k] for k in ("version", "parent", "weights_hash", "weights_size",
                                                                "height", "round", "updates") if k in v})
        for s in v.get("scores", []):
            keeper.put_score(state, model.id, int(v["version"]), int(s["round"]),
                             {k: s[k] for k in ("correct", "total", "loss", "shard_index", "height")})
    for r in entry.get("reveals", []):
        keeper.put_shard(state, model.id, int(r["shard_index"]), _b64(r["shard"]))
        keeper.put_reveal(state, model.id, int(r["round"]), {k: r[k] for k in ("shard_index", "height", "version")})


def export_genesis(state) -> dict:
    models = []
    for model in keeper.all_models(state):
        versions = []
        for v in keeper.versions(state, model.id):
            scores = [{"round": r, **s} for r, s in keeper.scores(state, model.id, v["version"])]
            versions.append({**v, "weights": _enc(keeper.weights_bytes(state, model.id, v["version"])),
                             "scores": scores})
        entry = {**model.record(), "owner": to_bech32(model.owner_bytes),
                 "spec": _enc(keeper.get_spec(state, model.id)), "versions": versions,
                 "reveals": [{"round": r, **rec, "shard": _enc(keeper.get_shard(state, model.id, rec["shard_index"]))}
                             for r, rec in keeper.reveals(state, model.id)]}
        if model.status == UPLOADING:
            entry["upload_chunks"] = [{"index": i, "data": _enc(d)} for i, d in keeper.chunks(state, model.id, 0)]
        models.append(entry)
    counters = keeper.counters(state)
    return {"params": asdict(rparams.load(state)), "next_model_id": counters["next_model_id"], "models": models}
