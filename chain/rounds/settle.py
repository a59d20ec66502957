"""Closing a round (docs/rounds.md, "Closing a round"): choose the new head, pay along the owner's reward
curve, return or forfeit the deposits; and voiding a round whose shard was never revealed.

A revealed round with submissions waits in the index `rnd/c/` until it can close: no submission still
sealed, every opened update scored, the current head and every parent scored on the round's shard, and,
when two or more updates of the head improve it, their FedAvg aggregate scored too. The jobs this needs
beyond the reveal's go through the budgeted scoring queue (chain/rounds/scoring_queue.py). Then, at the
end of a block:

* every opened update (not a copy) is a candidate, and so is the aggregate; the best by its gain over the
  head on this shard wins, ties to the earlier submission (the aggregate counts as its latest member);
* a winner whose gain is positive and at least the model's min_improvement becomes a new version, the
  head, with the old head as its parent (or the round's base version for an update trained on it);
* the new head is paid when a later round closes: there it and the version it replaced are scored on a
  fresh shard that played no part in choosing it, and that paired gain (not the selecting one, which is
  biased upwards by picking the best of many) adds to the model's progress; the payout
  bounty * (F(p_new) - F(p_old)) leaves the registry escrow to the trainers that produced the head, split
  by their gains over the head they replaced. A model that closes first pays on the selecting gain;
* deposits: an update worse than its own parent by more than the model's max_regression (default:
  min_improvement) is harmful and forfeits to the community pool; the others get theirs back.

Pure: reads committed state and the block context only.
"""
from __future__ import annotations

import hashlib

from chain.registry import keeper as registry
from chain.registry import params as registry_params
from chain.registry.model import CLOSED, Model
from chain.results import Event
from chain.rounds import aggregate_mode, fees, keeper, keys, reward, scoring_queue
from chain.rounds import params as rparams
from chain.rounds.candidates import aggregate_candidate, candidate
from chain.rounds.delta import decode_delta
from chain.scoring.weights import encode_weights
from chain.store.kv import prefix_end
from chain.tx.address import to_bech32
from chain.validators.keeper import COMMUNITY_POOL

ACCEPTED, IMPROVING, NEUTRAL, HARMFUL = "accepted", "improving", "neutral", "harmful"


# --- the close index ---------------------------------------------------------------------------------------
def index_close(state, model_id: int, round_: int) -> None:
    state.set(keys.close_key(model_id, round_), b"\x01")


def pending_closes(state) -> list[tuple[int, int]]:
    n = len(keys.CLOSE)
    return [(int.from_bytes(k[n:n + 8], "big"), int.from_bytes(k[n + 8:n + 16], "big"))
            for k, _ in state.iterate(keys.CLOSE, prefix_end(keys.CLOSE))]


def end_block(state, ctx) -> tuple[Event, ...]:
    """Close every waiting round that is ready, in (model, round) order."""
    events: tuple[Event, ...] = ()
    for model_id, round_ in pending_closes(state):
        events += try_close(state, ctx, model_id, round_)
    return events


# --- readiness -------------------------------------------------------------------------------------------
def _attrs(model_id: int, round_: int, *more) -> tuple:
    return (("model_id", str(model_id)), ("round", str(round_))) + tuple(more)


def _queue_missing_versions(state, ctx, model: Model, round_: int, record: dict, versions: list[int]) -> bool:
    """Queue a scoring job for each version lacking a score on this round's shard; True if any is missing."""
    reveal = registry.get_reveal(state, model.id, round_)
    missing = [v for v in versions if registry.get_score(state, model.id, v, round_) is None]
    queued = set(record.get("queued_versions", [])) | {reveal["version"]}
    new = [v for v in missing if v not in queued]
    if new:
        keeper.put_round(state, {**record, "queued_versions": sorted(queued - {reveal["version"]} | set(new))})
    for v in new:   # owner-side jobs, paid from the round's scoring reserve (chain/rounds/fees.py)
        work = scoring_queue.enqueue_version_job(state, ctx.height, model.id, v, round_)
        fees.charge_owner_job(state, model.id, round_, work * _price(state))
    return bool(missing)


def _price(state) -> int:
    return registry_params.load(state).fee_per_work_unit


def _queue_aggregate(state, ctx, model: Model, round_: int, record: dict, seqs: list[int],
                     kind: str = "fedavg") -> None:
    slot = "aggregate" if kind == "fedavg" else "robust"
    entry = {"version": model.head_version, "of": seqs, **({"kind": kind} if kind != "fedavg" else {})}
    keeper.put_round(state, {**record, slot: entry})
    work = scoring_queue.enqueue_aggregate_job(state, ctx.height, model.id, model.head_version, round_, seqs, kind)
    fees.charge_owner_job(state, model.id, round_, work * _price(state))


# --- closing ---------------------------------------------------------------------------------------------
def try_close(state, ctx, model_id: int, round_: int) -> tuple[Event, ...]:
    model = registry.get_model(state, model_id)
    record = keeper.get_round(state, model_id, round_)
    if model.status == CLOSED:      # the close refunded the held deposits (model_closed)
        state.delete(keys.close_key(model_id, round_))
        return ()
    subs = keeper.submissions(state, model_id, round_)
    if any(s["status"] == keeper.SEALED for s in subs):
        return ()                   # shares still coming, or the release deadline settles them
    if model.aggregate and any(c["status"] in (aggregate_mode.MASKING, aggregate_mode.UNMASKING)
                               for c in aggregate_mode.cohorts(state, model_id, round_)):
        return ()                   # a cohort's sum is not in yet (chain/rounds/unmask.py)
    opened = [s for s in subs if s["status"] == keeper.OPENED]
    if any("score" not in s for s in opened):
        return ()
    head = model.head_version
    needed = {head} | {s["parent"] for s in opened}
    if _confirms(model, round_):   # the last new head and its base, on this fresh shard
        needed |= {model.pending["version"], model.pending["base"]}
    if _queue_missing_versions(state, ctx, model, round_, record, sorted(needed)):
        return ()
    record = keeper.get_round(state, model_id, round_)
    score_of = lambda v: reward.value(model, registry.get_score(state, model_id, v, round_))  # noqa: E731
    head_value = score_of(head)
    gains = {s["seq"]: reward.gain(model, reward.value(model, s["score"]), head_value) for s in opened}
    improving = [s["seq"] for s in opened if s["parent"] == head and gains[s["seq"]] > 0]
    aggregate = record.get("aggregate")
    if len(improving) >= 2 and (aggregate is None or aggregate["version"] != head):
        _queue_aggregate(state, ctx, model, round_, record, improving)
        return ()
    if aggregate is not None and aggregate["version"] == head and "score" not in aggregate:
        return ()
    robust = record.get("robust")    # the owner's robust aggregate, beside FedAvg, from three improving updates
    if model.aggregator != "fedavg" and len(improving) >= 3 and (robust is None or robust["version"] != head):
        _queue_aggregate(state, ctx, model, round_, keeper.get_round(state, model_id, round_), improving,
                         model.aggregator)
        return ()
    if robust is not None and robust["version"] == head and "score" not in robust:
        return ()
    return _close(state, ctx, model, record, opened, gains, head_value, score_of)


def _close(state, ctx, model: Model, record: dict, opened: list[dict], gains: dict, head_value: int,
           score_of) -> tuple[Event, ...]:
    model_id, round_ = model.id, record["round"]
    events: list[Event] = []
    if model.initial_score is None:   # version 0's score on the first round that closes (still the head)
        model = model.with_(initial_score=score_of(0))
    if _confirms(model, round_):
        model, confirm_events = _confirm(state, ctx, model, round_, score_of)
        events += confirm_events
    # candidates: (gain over the head, -order) -> the larger wins; ties go to the earlier submission
    candidates = [(gains[s["seq"]], -s["seq"], [s["seq"]], s["parent"], s["score"], None) for s in opened]
    # the aggregates count as their latest member; on a tie FedAvg (listed first) wins over the robust one
    for slot in ("aggregate", "robust"):
        aggregate = record.get(slot)
        if aggregate is not None and aggregate["version"] == model.head_version and "score" in aggregate:
            agg_gain = reward.gain(model, reward.value(model, aggregate["score"]), head_value)
            candidates.append((agg_gain, -max(aggregate["of"]), aggregate["of"], model.head_version,
                               aggregate["score"], aggregate.get("kind", "fedavg")))
    best = max(candidates, key=lambda c: (c[0], c[1])) if candidates else None
    winners: list[int] = []
    new_version = None
    if best is not None and best[0] > 0 and best[0] >= model.min_improvement:
        best_gain, _, winners, parent, score, kind = best
        old_head = model.head_version
        model, new_version, version_events = _new_head(state, ctx, model, round_, winners, parent, score, kind)
        events += version_events
        # paid once a later round's fresh shard confirms the gain (_confirm): the gain measured on the
        # shard that chose the winner among many candidates is biased upwards (the winner's curse)
        model = model.with_(pending={"version": new_version, "base": old_head, "round": round_, "gain": best_gain,
                                     "weights": [[seq, max(gains.get(seq, 0), 1)] for seq in winners]})
    for s in opened:
        events += _settle_deposit(state, ctx, model, round_, s, gains[s["seq"]], score_of(s["parent"]),
                                  s["seq"] in winners)
    registry.put_model(state, model)
    record = schedule_prune(state, ctx, keeper.refund_reserve(state, record, model.owner_bytes))
    keeper.put_round(state, {**record, "closed_height": ctx.height,
                             "new_version": new_version, "winners": winners, "paid": "0",
                             "payout_pending": new_version is not None,
                             "head_gain": best[0] if new_version is not None else 0})
    state.delete(keys.close_key(model_id, round_))
    events.append(Event("round_closed", _attrs(model_id, round_, ("new_version", "" if new_version is None
                                                                   else str(new_version)),
                                               ("head_version", str(model.head_version)))))
    return tuple(events)


def _confirms(model: Model, round_: int) -> bool:
    return model.pending is not None and model.pending["round"] < round_


def _confirm(state, ctx, model: Model, round_: int, score_of) -> tuple[Model, list[Event]]:
    """Pay the pending new head on this round's shard, which played no part in choosing it: its gain over
    the version it replaced, both scored here (a paired, unbiased measure). No gain, no pay."""
    pending = model.pending
    confirmed = reward.gain(model, score_of(pending["version"]), score_of(pending["base"]))
    return _pay_pending(state, ctx, model, max(0, confirmed), {"confirmed_gain": confirmed,
                                                               "confirmed_round": round_})


def _pay_pending(state, ctx, model: Model, gain: int, how: dict) -> tuple[Model, list[Event]]:
    pending = model.pending
    model, amount, parts, events = _pay(state, model, pending["round"], [tuple(w) for w in pending["weights"]], gain)
    for seq, _ in pending["weights"]:
        sub = keeper.get_submission(state, model.id, pending["round"], seq)
        keeper.put_submission(state, model.id, pending["round"], {**sub, "payout": str(parts.get(seq, 0)),
                                                                  "payout_pending": False, **how})
        for member_seq in sub.get("members", []):   # a cohort paid nothing: its members wait no longer
            member = aggregate_mode.get_member(state, model.id, pending["round"], member_seq)
            if member.get("payout_pending"):
                aggregate_mode.put_member(state, model.id, pending["round"], {**member, "payout_pending": False})
    record = keeper.get_round(state, model.id, pending["round"])
    keeper.put_round(state, {**record, "paid": str(amount), "payout_pending": False, "paid_height": ctx.height,
                             **how})
    return model.with_(pending=None), events


def _new_head(state, ctx, model: Model, round_: int, seqs: list[int], parent: int, score: dict,
              kind: str | None = None):
    weights = candidate(state, model.id, round_, seqs[0]) if kind is None else \
        aggregate_candidate(state, model.id, round_, seqs, kind)
    raw = encode_weights(weights)
    version = model.version_count
    registry.put_weights(state, model.id, version, raw, model.chunk_size)
    registry.put_version(state, model.id, {"version": version, "parent": parent,
                                           "weights_hash": hashlib.sha256(raw).hexdigest(),
                                           "weights_size": len(raw), "height": ctx.height,
                                           "round": round_, "updates": seqs})
    registry.put_score(state, model.id, version, round_, score)
    model = model.with_(head_version=version, version_count=version + 1)
    return model, version, [Event("new_head", _attrs(model.id, round_, ("version", str(version)),
                                                     ("parent", str(parent)),
                                                     ("updates", ",".join(map(str, seqs))),
                                                     *((("aggregator", kind),) if kind not in (None, "fedavg")
                                                       else ())))]


def _pay(state, model: Model, round_: int, weights: list[tuple[int, int]], gain: int):
    """Progress grows by `gain`; the curve says what that is worth; the trainers of round `round_` that
    produced the head share it by `weights` (their own gains over the head they replaced)."""
    gained = model.gained + gain
    bounty = int(model.escrow) + int(model.paid)
    amount = min(int(model.escrow), reward.payout(model, bounty, model.gained, gained, model.initial_score))
    model = model.with_(gained=gained, escrow=str(int(model.escrow) - amount), paid=str(int(model.paid) + amount))
    events, parts = [], {}
    if amount:
        parts = reward.split(amount, weights)
        for seq in sorted(parts):
            sub = keeper.get_submission(state, model.id, round_, seq)
            if "members" in sub:    # a cohort's sum: its submitters share its part equally
                events += _pay_cohort(state, model, round_, sub, parts[seq])
                continue
            if parts[seq]:
                registry.BANK.pay(state, bytes.fromhex(sub["submitter"]), [(model.bounty_denom, parts[seq])])
            events.append(Event("payout", _attrs(model.id, round_, ("seq", str(seq)),
                                                 ("trainer", to_bech32(bytes.fromhex(sub["submitter"]))),
                                                 ("amount", f"{parts[seq]}{model.bounty_denom}"))))
    return model, amount, parts, events


def _pay_cohort(state, model: Model, round_: int, sub: dict, amount: int) -> list[Event]:
    """A cohort's part of a payout, split equally among the members whose updates are in its sum (the sum
    reveals nothing finer to split by), the rounding remainder to the earliest joiner."""
    shares = reward.split(amount, [(seq, 1) for seq in sub["members"]]) if amount else {}
    events = []
    for seq in sub["members"]:
        member = aggregate_mode.get_member(state, model.id, round_, seq)
        part = shares.get(seq, 0)
        if part:
            registry.BANK.pay(state, bytes.fromhex(member["member"]), [(model.bounty_denom, part)])
        aggregate_mode.put_member(state, model.id, round_, {**member, "payout": str(part), "payout_pending": False,
                                                            "payout_denom": model.bounty_denom})
        events.append(Event("payout", _attrs(model.id, round_, ("seq", str(sub["seq"])), ("member", str(seq)),
                                             ("trainer", to_bech32(bytes.fromhex(member["member"]))),
                                             ("amount", f"{part}{model.bounty_denom}"))))
    return events


def _settle_members(state, ctx, model: Model, round_: int, sub: dict, outcome: str, accepted: bool) -> list[Event]:
    """A cohort sum settles its submitters: deposits back whatever the outcome (no one member can be
    blamed for a sum), the cohort's scoring job charged to them in equal parts."""
    due = int(sub.get("scoring_fee_due", "0")) if "score" in sub else 0
    n = len(sub["members"])
    parts = reward.split(due, [(seq, 1) for seq in sub["members"]]) if due else {}
    return [aggregate_mode.settle_member(state, ctx, model.id, round_,
                                         aggregate_mode.get_member(state, model.id, round_, seq), outcome,
                                         parts.get(seq, 0) if n else 0, pending=accepted)
            for seq in sub["members"]]


def _settle_deposit(state, ctx, model: Model, round_: int, sub: dict, head_gain: int, parent_value: int,
                    accepted: bool) -> list[Event]:
    parent_gain = reward.gain(model, reward.value(model, sub["score"]), parent_value)
    harmful = parent_gain < -model.harm_margin
    outcome = ACCEPTED if accepted else HARMFUL if harmful else IMPROVING if parent_gain > 0 else NEUTRAL
    deposit, denom = int(sub["deposit"]), sub["deposit_denom"]
    trainer = bytes.fromhex(sub["submitter"])
    if deposit:
        keeper.BANK.pay(state, COMMUNITY_POOL if harmful else trainer, [(denom, deposit)])
    sub = keeper.settle_scoring_fee(state, sub)
    keeper.put_submission(state, model.id, round_, {
        **sub, "status": keeper.SETTLED, "outcome": outcome, "gain": head_gain, "parent_gain": parent_gain,
        "payout": "0", "payout_denom": model.bounty_denom, "payout_pending": accepted,
        "deposit_returned": not harmful, "settled_height": ctx.height})
    if "members" in sub:
        return _settle_members(state, ctx, model, round_, sub, outcome, accepted) + [Event("update_settled", _attrs(
            model.id, round_, ("seq", str(sub["seq"])), ("cohort", str(sub["cohort"])), ("outcome", outcome)))]
    return [Event("update_settled", _attrs(model.id, round_, ("seq", str(sub["seq"])),
                                           ("trainer", to_bech32(trainer)), ("outcome", outcome),
                                           ("forfeited" if harmful else "refunded", f"{deposit}{denom}")))]


# --- void rounds and closed models -----------------------------------------------------------------------
def could_have_scored(state, model_id: int, round_: int, sub: dict, compensated: set[str]) -> bool:
    """Whether a void round's opened submission earns compensation (docs/rounds.md, "Void rounds"): it is a
    valid, original update (OPENED: copies, bad sealing and malformed deltas are INVALID and never get
    here) that put something at stake (a non-zero deposit) and changes its parent (a zero delta's
    candidate IS its parent: it could never improve), and it is its submitter's first such submission in
    the round (one compensation per trainer per round, so spamming variants of one update drains nothing)."""
    if sub["status"] != keeper.OPENED or not int(sub["deposit"]) or sub["submitter"] in compensated:
        return False
    update = keeper.get_update(state, model_id, round_, sub["seq"])
    return update is not None and any(bool(d.any()) for d in decode_delta(update, max_inflated=None))


def void_unrevealed(state, ctx, model_id: int, round_: int) -> tuple[Event, ...]:
    """At the reveal deadline (after the release deadline settled what stayed sealed): a round with
    submissions but no revealed shard is void. Every opened update's deposit and scoring prepayment come
    back, and a trainer whose update could have scored (could_have_scored) is compensated from the owner's
    bond with as much again as its deposit, in seq order while the bond lasts."""
    model = registry.get_model(state, model_id)
    if model is None or registry.get_reveal(state, model_id, round_) is not None:
        return ()
    record = keeper.get_round(state, model_id, round_)
    bond = int(model.bond)
    events = []
    compensated: set[str] = set()
    scored = _scored_members(state, model_id, round_) if model.aggregate else set()   # before the loop voids them
    for sub in keeper.submissions(state, model_id, round_):
        if sub["status"] != keeper.OPENED:
            continue
        deposit, trainer = int(sub["deposit"]), bytes.fromhex(sub["submitter"])
        compensation = min(deposit, bond) if could_have_scored(state, model_id, round_, sub, compensated) else 0
        if compensation:
            compensated.add(sub["submitter"])
        bond -= compensation
        if deposit:
            keeper.BANK.pay(state, trainer, [(sub["deposit_denom"], deposit)])
        sub = keeper.settle_scoring_fee(state, sub)
        if compensation:
            registry.BANK.pay(state, trainer, [(model.bond_denom, compensation)])
        keeper.put_submission(state, model_id, round_, {**sub, "status": keeper.VOID, "settled_height": ctx.height,
                                                        "reason": "the owner did not reveal the round's shard",
                                                        "compensation": str(compensation)})
        events.append(Event("update_void", _attrs(model_id, round_, ("seq", str(sub["seq"])),
                                                  ("refunded", f"{deposit}{sub['deposit_denom']}"),
                                                  ("compensation", f"{compensation}{model.bond_denom}"))))
    if model.aggregate:
        bond, member_events = _void_members_compensated(state, ctx, model, round_, bond, scored)
        events += member_events
    registry.put_model(state, model.with_(bond=str(bond)))
    keeper.put_round(state, {**schedule_prune(state, ctx, record), "void": True, "closed_height": ctx.height})
    events.append(Event("round_void", _attrs(model_id, round_, ("compensation",
                                                                f"{int(model.bond) - bond}{model.bond_denom}"))))
    return tuple(events)


def _scored_members(state, model_id: int, round_: int) -> set[int]:
    """The join seqs of the submitters of every cohort whose valid (OPENED) sum changes its parent."""
    scored = set()
    for sub in keeper.submissions(state, model_id, round_):
        update = keeper.get_update(state, model_id, round_, sub["seq"])
        if sub["status"] == keeper.OPENED and "members" in sub and update is not None and \
                any(bool(d.any()) for d in decode_delta(update, max_inflated=None)):
            scored |= set(sub["members"])
    return scored


def _void_members_compensated(state, ctx, model: Model, round_: int, bond: int,
                              scored: set[int]) -> tuple[int, list[Event]]:
    """A void round of an aggregate-mode model: every held member is refunded, and each submitter of a
    cohort whose valid sum changes its parent (`scored`, read before void_unrevealed voided the sums) is
    compensated like an open-mode update (could_have_scored), in join order while the bond lasts."""
    events = []
    for member in aggregate_mode.members(state, model.id, round_):
        if member["status"] not in aggregate_mode.MEMBER_HELD:
            continue
        compensation = min(int(member["deposit"]), bond) if member["seq"] in scored else 0
        bond -= compensation
        if compensation:
            registry.BANK.pay(state, bytes.fromhex(member["member"]), [(model.bond_denom, compensation)])
        events.append(aggregate_mode.void_member(state, ctx, model.id, round_, member,
                                                 "the owner did not reveal the round's shard", compensation))
    return bond, events


def model_closed(state, ctx, model_id: int) -> tuple[Event, ...]:
    """A closing model refunds every deposit its rounds still hold (sealed or opened): the trainers did
    nothing wrong. Its waiting rounds leave the close index and its queued scoring jobs are dropped. A new
    head still waiting for its confirming round is paid on the gain that chose it, the only measure left."""
    events = []
    model = registry.get_model(state, model_id)
    if model.pending is not None:
        model, pay_events = _pay_pending(state, ctx, model, model.pending["gain"], {"confirmed_gain": None})
        registry.put_model(state, model)
        events += pay_events
    for record in keeper.rounds_of(state, model_id):
        round_ = record["round"]
        for sub in keeper.submissions(state, model_id, round_):
            if sub["status"] not in keeper.HELD_STATUSES:
                continue
            deposit = int(sub["deposit"])
            if deposit:
                keeper.BANK.pay(state, bytes.fromhex(sub["submitter"]), [(sub["deposit_denom"], deposit)])
            sub = keeper.settle_scoring_fee(state, sub)
            keeper.put_submission(state, model_id, round_, {**sub, "status": keeper.VOID, "settled_height": ctx.height,
                                                            "reason": "the model closed"})
            events.append(Event("update_void", _attrs(model_id, round_, ("seq", str(sub["seq"])),
                                                      ("refunded", f"{deposit}{sub['deposit_denom']}"))))
        events += aggregate_mode.void_held_members(state, ctx, model_id, round_, "the model closed")
        state.delete(keys.close_key(model_id, round_))
        if "settled_height" not in record:
            keeper.clear_deadline(state, record["release_deadline"], model_id, round_)
        record = schedule_prune(state, ctx, keeper.refund_reserve(state, keeper.get_round(state, model_id, round_),
                                                                  model.owner_bytes))
        keeper.put_round(state, {**record, "settled_height": record.get("settled_height", ctx.height),
                                 "closed_height": record.get("closed_height", ctx.height)})
    scoring_queue.drop_model_jobs(state, model_id)
    return tuple(events)


def schedule_prune(state, ctx, record: dict) -> dict:
    """A round that closes (or voids) gets its payloads pruned payload_retention_blocks after both its
    close and its release deadline (docs/rounds.md, "Payload pruning"): a shortfall void happens at the
    release deadline, so its withholding-proof window (chain/rounds/withhold.py) ends no later. Returns the
    record with prune_height (the caller stores it); a round already scheduled keeps its height."""
    if "prune_height" in record:
        return record
    height = max(ctx.height, record["release_deadline"]) + rparams.load(state).payload_retention_blocks
    keeper.index_prune(state, height, record["model_id"], record["round"])
    return {**record, "prune_height": height}
