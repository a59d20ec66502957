"""Rounds queries (not consensus). Ids, rounds and sequence numbers are 8-byte big-endian.

    /rounds/params                          JSON params
    /rounds/round       model id + round    JSON round: window, sealing set (snapshot, or the current set
                                            if the round has no submission yet), share plan, submissions
    /rounds/submission  model id + round + seq   JSON submission record
    /rounds/envelope    model id + round + seq   raw envelope bytes, empty if none (provable)
    /rounds/update      model id + round + seq   raw opened update plaintext, empty until opened (provable)
"""
from __future__ import annotations

import json
from dataclasses import asdict

from chain.errors import InvalidQuery, UnknownModel, UnknownQuery, UnknownSubmission
from chain.registry import keeper as registry
from chain.rounds import keeper, keys
from chain.rounds import params as rparams
from chain.tx.address import to_bech32


def _ids(data: bytes, count: int, what: str) -> tuple[int, ...]:
    if len(data) != 8 * count:
        raise InvalidQuery(f"query data must be {what}, each 8-byte big-endian")
    return tuple(int.from_bytes(data[8 * i:8 * i + 8], "big") for i in range(count))


def _json(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def provable_key(path: str, data: bytes) -> bytes | None:
    if path == "/rounds/envelope":
        return keys.envelope_key(*_ids(data, 3, "a model id, a round and a sequence number"))
    if path == "/rounds/update":
        return keys.update_key(*_ids(data, 3, "a model id, a round and a sequence number"))
    return None


def _submission_view(record: dict) -> dict:
    return {**record, "submitter": to_bech32(bytes.fromhex(record["submitter"]))}


def round_view(state, model_id: int, round_: int) -> dict:
    model = registry.get_model(state, model_id)
    if model is None:
        raise UnknownModel(f"no model {model_id}")
    params = rparams.load(state)
    record = keeper.get_round(state, model_id, round_)
    if record is None:  # what the round's first submission would snapshot
        record = {"model_id": model_id, "round": round_, "created_height": None, "base_version": model.head_version,
                  "sealing_set": keeper.current_sealing_set(state), "max_total_shares": params.max_total_shares,
                  "submissions": 0}
        try:
            plan = keeper.plan_of(record)
            record.update(valset_hash=plan.valset_hash.hex(), threshold=plan.threshold, total_shares=plan.total_shares)
        except Exception as e:  # noqa: BLE001 - an unusable set is reported, not raised, by this query
            record.update(valset_hash=None, threshold=None, total_shares=None, plan_error=str(e))
    view = {**record, "snapshotted": record["created_height"] is not None,
            "window_start": model.round_start(round_), "window_end": model.round_end(round_),
            "reveal_deadline": model.reveal_deadline(round_), "max_payload_bytes": params.max_payload_bytes,
            "deposit": model.deposit, "deposit_denom": model.deposit_denom, "head_version": model.head_version,
            "submission_list": [_submission_view(s) for s in keeper.submissions(state, model_id, round_)]}
    for member in view["sealing_set"]:
        member["operator"] = to_bech32(bytes.fromhex(member["operator"]))
    return view


def query(state, path: str, data: bytes) -> bytes:
    if path == "/rounds/params":
        return _json(asdict(rparams.load(state)))
    if path == "/rounds/round":
        return _json(round_view(state, *_ids(data, 2, "a model id and a round")))
    if path == "/rounds/submission":
        model_id, round_, seq = _ids(data, 3, "a model id, a round and a sequence number")
        record = keeper.get_submission(state, model_id, round_, seq)
        if record is None:
            raise UnknownSubmission(f"no submission {seq} in round {round_} of model {model_id}")
        return _json({"model_id": model_id, "round": round_, **_submission_view(record)})
    raise UnknownQuery(f"unknown query path {path!r}")
