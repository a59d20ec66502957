"""Rounds' genesis section: params, round records, submissions with their envelopes (none once pruned: the
record keeps the hashes and pruned_height), and the scoring queue. Deposits, scoring prepayments and
reserves are not minted: the escrow's bank balance must hold exactly what keeper.held_deposits owes, so
export -> import round-trips."""
from __future__ import annotations

import base64
from dataclasses import asdict

from chain.bank import keeper as bank
from chain.tx.errors import InvalidGenesis
from chain.registry import keeper as registry
from chain.rounds import aggregate_mode as agg
from chain.rounds import keeper, keys
from chain.rounds import params as rparams
from chain.rounds import scoring_queue
from chain.rounds.settle import index_close
from chain.sealing.envelope import decode_envelope, envelope_hash
from chain.tx.address import to_bech32


def import_genesis(state, section: dict) -> None:
    params = rparams.RoundsParams(**section.get("params", {}))
    if "params" in section:  # a chain whose only rounds state is scoring jobs keeps the default params unstored
        rparams.store(state, params)
    for record in section.get("rounds", []):
        keeper.put_round(state, dict(record))
        if "settled_height" not in record:
            keeper.index_deadline(state, record["release_deadline"], record["model_id"], record["round"])
        if "prune_height" in record and "pruned_height" not in record:
            keeper.index_prune(state, record["prune_height"], record["model_id"], record["round"])
    for entry in section.get("submissions", []):
        entry = dict(entry)
        model_id, round_ = int(entry.pop("model_id")), int(entry.pop("round"))
        if keeper.get_round(state, model_id, round_) is None:
            raise InvalidGenesis(f"submission {entry.get('seq')} of model {model_id} round {round_} has no round record")
        if "members" in entry:         # an aggregate-mode cohort's sum: no envelope, no indexes
            update = entry.pop("update", None)
            keeper.put_submission(state, model_id, round_, entry)
            if update is not None:
                keeper.put_update(state, model_id, round_, entry["seq"], base64.b64decode(update, validate=True))
            continue
        if "pruned_height" in entry:   # its payloads are gone; the record and its indexes stay
            if {"envelope", "released", "update"} & entry.keys():
                raise InvalidGenesis(f"submission {entry.get('seq')} of model {model_id}: pruned, yet it carries payloads")
            keeper.put_submission(state, model_id, round_, entry)
            keeper.index_submission(state, model_id, round_, entry)
            continue
        raw = base64.b64decode(entry.pop("envelope"), validate=True)
        if envelope_hash(decode_envelope(raw, max_payload_bytes=params.max_payload_bytes)).hex() != entry["envelope_hash"]:
            raise InvalidGenesis(f"submission {entry.get('seq')} of model {model_id}: envelope does not match its hash")
        released = entry.pop("released", {})
        update = entry.pop("update", None)
        keeper.put_submission(state, model_id, round_, entry, raw)
        for index, share in released.items():
            keeper.put_share(state, model_id, round_, entry["seq"], int(index), base64.b64decode(share, validate=True))
        if update is not None:
            keeper.put_update(state, model_id, round_, entry["seq"], base64.b64decode(update, validate=True))
    _import_aggregate(state, section)
    _import_jobs(state, section)
    _rebuild_indexes(state)
    held, owed = dict(bank.balances(state, keeper.ESCROW)), keeper.held_deposits(state)
    if held != owed:
        raise InvalidGenesis(f"rounds escrow {to_bech32(keeper.ESCROW)} holds {held} but held deposits add up to {owed}")


def _b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def _import_aggregate(state, section: dict) -> None:
    """Aggregate mode: members with their sealed secrets, masked vectors and released shares (until their
    cohort is unmasked or void), and cohorts."""
    for entry in section.get("members", []):
        entry = dict(entry)
        model_id, round_ = int(entry.pop("model_id")), int(entry.pop("round"))
        if keeper.get_round(state, model_id, round_) is None:
            raise InvalidGenesis(f"member {entry.get('seq')} of model {model_id} round {round_} has no round record")
        payloads = {k: entry.pop(k) for k in ("key_envelope", "seed_envelope", "masked", "released") if k in entry}
        agg.put_member(state, model_id, round_, entry)
        seq = entry["seq"]
        state.set(keys.joined_key(bytes.fromhex(entry["member"]), model_id, round_), keys.u64(seq))
        for kind, name in ((agg.KEY, "key_envelope"), (agg.SEED, "seed_envelope")):
            if name in payloads:
                raw = _b64(payloads[name])
                decode_envelope(raw, max_payload_bytes=agg.SECRET_BYTES)  # refused here (v1, malformed), not at unmask
                state.set(keys.member_secret_key(model_id, round_, seq, kind), raw)
        if "masked" in payloads:
            state.set(keys.masked_key(model_id, round_, seq), _b64(payloads["masked"]))
        for kind, shares in payloads.get("released", {}).items():
            for index, share in shares.items():
                agg.put_member_share(state, model_id, round_, seq, int(kind), int(index), _b64(share))
    for entry in section.get("cohorts", []):
        entry = dict(entry)
        model_id, round_ = int(entry.pop("model_id")), int(entry.pop("round"))
        agg.put_cohort(state, model_id, round_, entry)


def _export_aggregate(state, rounds: list[dict]) -> dict:
    members, cohorts = [], []
    for record in rounds:
        if record.get("privacy") != "aggregate":
            continue
        m, r = record["model_id"], record["round"]
        for member in agg.members(state, m, r):
            entry = {"model_id": m, "round": r, **member}
            seq = member["seq"]
            for kind, name in ((agg.KEY, "key_envelope"), (agg.SEED, "seed_envelope")):
                raw = agg.secret_envelope(state, m, r, seq, kind)
                if raw is not None:
                    entry[name] = base64.b64encode(raw).decode()
            masked = agg.get_masked(state, m, r, seq)
            if masked is not None:
                entry["masked"] = base64.b64encode(masked).decode()
            released = {str(kind): {str(i): base64.b64encode(v).decode()
                                    for i, v in sorted(agg.member_shares(state, m, r, seq, kind).items())}
                        for kind in (agg.KEY, agg.SEED) if agg.member_shares(state, m, r, seq, kind)}
            if released:
                entry["released"] = released
            members.append(entry)
        cohorts += [{"model_id": m, "round": r, **c} for c in agg.cohorts(state, m, r)]
    return {"members": members, "cohorts": cohorts} if members or cohorts else {}


def _import_jobs(state, section: dict) -> None:
    scoring_queue.set_next_job_seq(state, int(section.get("next_job_seq", 1)))
    if "queue_cursor" in section:  # the model the round-robin served last (docs/rounds.md, "The scoring queue")
        scoring_queue.set_last_served_model(state, int(section["queue_cursor"]))
    for job in section.get("jobs", []):
        job = dict(job)
        height, seq = int(job.pop("height")), int(job.pop("seq"))
        model_id, version, shard_index = int(job["model_id"]), int(job["version"]), int(job["shard_index"])
        if registry.get_version(state, model_id, version) is None or registry.get_shard(state, model_id, shard_index) is None:
            raise InvalidGenesis(f"rounds: scoring job {height}/{seq} needs model {model_id} version {version} "
                                 f"and revealed shard {shard_index}")
        scoring_queue.put_job(state, height, seq, job)


def _rebuild_indexes(state) -> None:
    """The close index (revealed rounds not closed yet) and the first-plaintext index follow from the
    records, so genesis does not carry them (put_submission rebuilds the per-trainer index)."""
    for record in keeper.all_rounds(state):
        m, r = record["model_id"], record["round"]
        if "closed_height" not in record and registry.get_reveal(state, m, r) is not None:
            index_close(state, m, r)
        _rebuild_phase(state, record)
        for s in keeper.submissions(state, m, r):
            if "members" in s:         # cohort sums are never copies of anything
                continue
            key = s.get("copy_hash", s.get("update_hash"))   # copy_hash: a deflated delta's canonical bytes
            if key is not None and keeper.first_with_plaintext(state, m, bytes.fromhex(key)) is None:
                keeper.record_plaintext(state, m, bytes.fromhex(key), r, s["seq"])


def _rebuild_phase(state, record: dict) -> None:
    """An aggregate-mode round's next phase change follows from its records: cohorts not formed yet, or
    cohorts still taking masked updates."""
    if record.get("privacy") != "aggregate" or "settled_height" in record:
        return
    model = registry.get_model(state, record["model_id"])
    if "cohorts" not in record:
        agg.index_phase(state, model.join_end(record["round"]) - 1, model.id, record["round"])
    elif any(c["status"] == agg.MASKING for c in agg.cohorts(state, model.id, record["round"])):
        agg.index_phase(state, model.round_end(record["round"]) - 1, model.id, record["round"])


def export_genesis(state) -> dict | None:
    """None for a chain that never configured or used rounds (its genesis had no section)."""
    rounds, jobs = keeper.all_rounds(state), scoring_queue.jobs(state)
    cursor = scoring_queue.last_served_model(state)
    if state.get(keys.PARAMS) is None and not rounds and not jobs and cursor is None:
        return None
    submissions = []
    for record in rounds:
        m, r = record["model_id"], record["round"]
        for s in keeper.submissions(state, m, r):
            if "pruned_height" in s:
                submissions.append({"model_id": m, "round": r, **s})
                continue
            raw = keeper.get_envelope(state, m, r, s["seq"])
            if "members" in s:      # a cohort's sum (aggregate mode): no envelope
                entry = {"model_id": m, "round": r, **s}
                update = keeper.get_update(state, m, r, s["seq"])
                if update is not None:
                    entry["update"] = base64.b64encode(update).decode()
                submissions.append(entry)
                continue
            entry = {"model_id": m, "round": r, **s, "envelope": base64.b64encode(raw).decode()}
            released = keeper.released_shares(state, m, r, s["seq"])
            if released:
                entry["released"] = {str(i): base64.b64encode(v).decode() for i, v in sorted(released.items())}
            update = keeper.get_update(state, m, r, s["seq"])
            if update is not None:
                entry["update"] = base64.b64encode(update).decode()
            submissions.append(entry)
    params = {"params": asdict(rparams.load(state))} if state.get(keys.PARAMS) is not None else {}
    queue_cursor = {"queue_cursor": cursor} if cursor is not None else {}
    return {**params, "rounds": rounds, "submissions": submissions, **_export_aggregate(state, rounds),
            "next_job_seq": scoring_queue.next_job_seq(state), **queue_cursor,
            "jobs": [{"height": h, "seq": s, **job} for h, s, job in jobs]}
