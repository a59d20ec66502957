"""Rounds queries (not consensus). Ids, rounds and sequence numbers are 8-byte big-endian.

    /rounds/params                          JSON params
    /rounds/round       model id + round    JSON round: window, sealing set (snapshot, or the current set
                                            if the round has no submission yet), share plan, submissions;
                                            aggregate mode: join_end, member_list, cohort_list
    /rounds/submission  model id + round + seq   JSON submission record
    /rounds/envelope    model id + round + seq   raw envelope bytes, empty if none (provable); rounds/12
                                            PayloadPruned once the settled round's retention window passed
    /rounds/update      model id + round + seq   raw opened update plaintext, empty until opened (provable);
                                            rounds/12 PayloadPruned likewise
    /rounds/leaderboard model id            JSON trainers ranked by what they earned, and each closed round
    /rounds/earnings    address (20 bytes)  JSON what one trainer earned per denom, and each submission (and
                                            aggregate-mode membership)
    /rounds/queue       -                   JSON {"jobs": [...], "last_served_model"}: the scoring queue by
                                            model, FIFO within a model, and the round-robin's cursor
"""
from __future__ import annotations

from dataclasses import asdict

from chain.registry.errors import UnknownModel
from chain.rounds.errors import PayloadPruned, UnknownSubmission
from chain.tx.errors import InvalidQuery, UnknownQuery
from chain.registry import keeper as registry
from chain.rounds import aggregate_mode, keeper, keys
from chain.store.kv import prefix_end
from chain.rounds import params as rparams
from chain.rounds import scoring_queue
from chain.tx.address import to_bech32
from chain.results import json_answer


def _ids(data: bytes, count: int, what: str) -> tuple[int, ...]:
    if len(data) != 8 * count:
        raise InvalidQuery(f"query data must be {what}, each 8-byte big-endian")
    return tuple(int.from_bytes(data[8 * i:8 * i + 8], "big") for i in range(count))


def provable_key(path: str, data: bytes) -> bytes | None:
    if path == "/rounds/envelope":
        return keys.envelope_key(*_ids(data, 3, "a model id, a round and a sequence number"))
    if path == "/rounds/update":
        return keys.update_key(*_ids(data, 3, "a model id, a round and a sequence number"))
    return None


def check_provable(state, path: str, data: bytes) -> None:
    """Refuse a provable read of a payload that was pruned (docs/rounds.md, "Payload pruning"): an empty
    answer would look like "never submitted" or "not opened yet". The record keeps the hashes."""
    if path in ("/rounds/envelope", "/rounds/update"):
        model_id, round_, seq = _ids(data, 3, "a model id, a round and a sequence number")
        sub = keeper.get_submission(state, model_id, round_, seq)
        if sub is not None and "pruned_height" in sub:
            what = "envelope" if path == "/rounds/envelope" else "opened update"
            digest = sub["envelope_hash"] if path == "/rounds/envelope" else sub.get("update_hash", "")
            raise PayloadPruned(f"the {what} of submission {model_id}/{round_}/{seq} was pruned at height "
                                f"{sub['pruned_height']}; its commitment {digest} remains in /rounds/submission")


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
    view["sealing_set"] = [{**member, "operator": to_bech32(bytes.fromhex(member["operator"]))}
                           for member in view["sealing_set"]]
    view["privacy"] = model.privacy
    if model.aggregate:   # joins, cohorts and their outcomes; never a member's update (there is none stored)
        view.update(cohort_size=model.cohort_size, join_end=model.join_end(round_),
                    member_list=[_member_view(m) for m in aggregate_mode.members(state, model_id, round_)],
                    cohort_list=aggregate_mode.cohorts(state, model_id, round_))
    return view


def _member_view(record: dict) -> dict:
    return {**record, "member": to_bech32(bytes.fromhex(record["member"]))}


def _counts(sub: dict) -> dict:
    return {"submissions": 1, "accepted": int(sub.get("outcome") == "accepted"),
            "harmful": int(sub.get("outcome") == "harmful"), "invalid": int(sub["status"] == keeper.INVALID)}


_EMPTY_ROW = {"earned": 0, "submissions": 0, "accepted": 0, "harmful": 0, "invalid": 0, "forfeited": 0}


def leaderboard(state, model_id: int) -> dict:
    model = registry.get_model(state, model_id)
    if model is None:
        raise UnknownModel(f"no model {model_id}")
    trainers: dict[str, dict] = {}
    rounds = []
    for record in keeper.rounds_of(state, model_id):
        rounds.append({k: record.get(k) for k in ("round", "submissions", "closed_height", "new_version", "winners",
                                                   "paid", "payout_pending", "confirmed_round", "confirmed_gain",
                                                   "head_gain", "void")})
        for member in aggregate_mode.members(state, model_id, record["round"]):   # aggregate mode: per member
            row = trainers.setdefault(member["member"], dict(_EMPTY_ROW))
            row["submissions"] += 1
            row["accepted"] += int(member.get("outcome") == "accepted")
            row["invalid"] += int(member["status"] == keeper.INVALID)
            row["earned"] += int(member.get("payout", "0"))
            if member["status"] == keeper.INVALID:
                row["forfeited"] += int(member["deposit"])
        for sub in keeper.submissions(state, model_id, record["round"]):
            if "members" in sub:      # a cohort's mean: its members are counted above
                continue
            row = trainers.setdefault(sub["submitter"], dict(_EMPTY_ROW))
            for k, v in _counts(sub).items():
                row[k] += v
            row["earned"] += int(sub.get("payout", "0"))
            if sub["status"] == keeper.INVALID or sub.get("outcome") == "harmful":
                row["forfeited"] += int(sub["deposit"])
    ranked = sorted(trainers.items(), key=lambda kv: (-kv[1]["earned"], kv[0]))
    return {"model_id": model_id, "bounty_denom": model.bounty_denom, "paid": model.paid, "escrow": model.escrow,
            "head_version": model.head_version, "initial_score": model.initial_score, "gained": model.gained,
            "target_score": model.target_score, "metric": model.metric, "pending": model.pending,
            "trainers": [{"trainer": to_bech32(bytes.fromhex(a)), **{k: str(v) if k in ("earned", "forfeited") else v
                                                                     for k, v in row.items()}} for a, row in ranked],
            "rounds": rounds}


def earnings(state, address: bytes) -> dict:
    earned: dict[str, int] = {}
    forfeited: dict[str, int] = {}
    subs = []
    for model_id, round_, sub in keeper.submissions_of(state, address):
        payout = int(sub.get("payout", "0"))
        if payout:
            earned[sub["payout_denom"]] = earned.get(sub["payout_denom"], 0) + payout
        if sub["status"] == keeper.INVALID or sub.get("outcome") == "harmful":
            forfeited[sub["deposit_denom"]] = forfeited.get(sub["deposit_denom"], 0) + int(sub["deposit"])
        subs.append({"model_id": model_id, "round": round_, "seq": sub["seq"], "status": sub["status"],
                     "outcome": sub.get("outcome"), "payout": sub.get("payout", "0"),
                     "payout_denom": sub.get("payout_denom"), "deposit": sub["deposit"],
                     "deposit_denom": sub["deposit_denom"], "reason": sub.get("reason")})
    for model_id, round_, member in _memberships(state, address):   # aggregate mode: payouts go to members
        payout = int(member.get("payout", "0"))
        if payout:
            earned[member["payout_denom"]] = earned.get(member["payout_denom"], 0) + payout
        if member["status"] == keeper.INVALID:
            forfeited[member["deposit_denom"]] = forfeited.get(member["deposit_denom"], 0) + int(member["deposit"])
        subs.append({"model_id": model_id, "round": round_, "join_seq": member["seq"], "cohort": member.get("cohort"),
                     "status": member["status"], "outcome": member.get("outcome"), "payout": member.get("payout", "0"),
                     "payout_denom": member.get("payout_denom"), "deposit": member["deposit"],
                     "deposit_denom": member["deposit_denom"], "reason": member.get("reason")})
    return {"address": to_bech32(address), "earned": {d: str(a) for d, a in sorted(earned.items())},
            "forfeited": {d: str(a) for d, a in sorted(forfeited.items())}, "submissions": subs}


def _memberships(state, address: bytes) -> list[tuple[int, int, dict]]:
    prefix = keys.JOINED + address
    out = []
    for key, raw in state.iterate(prefix, prefix_end(prefix)):
        model_id, round_ = (int.from_bytes(key[len(prefix) + 8 * i:len(prefix) + 8 * i + 8], "big") for i in range(2))
        out.append((model_id, round_, aggregate_mode.get_member(state, model_id, round_, int.from_bytes(raw, "big"))))
    return out


def query(state, path: str, data: bytes) -> bytes:
    if path == "/rounds/queue":
        return json_answer({"jobs": [{"height": h, "seq": s, **job} for h, s, job in scoring_queue.jobs(state)],
                            "last_served_model": scoring_queue.last_served_model(state)})
    if path == "/rounds/params":
        return json_answer(asdict(rparams.load(state)))
    if path == "/rounds/round":
        return json_answer(round_view(state, *_ids(data, 2, "a model id and a round")))
    if path == "/rounds/submission":
        model_id, round_, seq = _ids(data, 3, "a model id, a round and a sequence number")
        record = keeper.get_submission(state, model_id, round_, seq)
        if record is None:
            raise UnknownSubmission(f"no submission {seq} in round {round_} of model {model_id}")
        return json_answer({"model_id": model_id, "round": round_, **_submission_view(record)})
    if path == "/rounds/leaderboard":
        return json_answer(leaderboard(state, *_ids(data, 1, "a model id")))
    if path == "/rounds/earnings":
        if len(data) != 20:
            raise InvalidQuery("query data must be a 20-byte address")
        return json_answer(earnings(state, data))
    raise UnknownQuery(f"unknown query path {path!r}")
