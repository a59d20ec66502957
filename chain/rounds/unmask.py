"""Aggregate mode after the window (chain/rounds/aggregate_mode.py): the member secrets validators release,
and the unmasking of a cohort once all of them are in (docs/privacy.md, "Aggregate mode").

Each member of an unmasking cohort has exactly one secret marked for release: the self seed of a member
that submitted, the round key of one that dropped out. The shares travel like an update's
(chain/rounds/release.py, `ReleasedShare.kind` = KEY or SEED, `seq` = the join seq). When every marked
secret of a cohort has valid shares of at least the threshold, in one block:

* each secret is reconstructed and opened; a secret that does not open, or a round key that does not
  match the member's round public key, is the member's own fault (it sealed it): that member forfeits its
  deposit and the cohort is invalid (nothing is unmasked; the others are refunded);
* otherwise the masks are removed (chain/secagg/masks.unmask_sum), giving the exact sum of the submitted
  deltas; its mean (rounded half to even, as FedAvg) is stored as one OPENED submission of the round
  (fields `cohort`, `members`), scored and settled like an update; a mean that is not a valid delta
  (out of range: a member may have submitted anything) makes the cohort invalid, nobody blamed, all
  refunded;
* dropouts are settled (deposit back), and every member's masked vector, sealed secrets and shares are
  deleted: what stays is the cohort's mean.
"""
from __future__ import annotations

import hashlib

from chain.registry import keeper as registry
from chain.results import Event
from chain.rounds import aggregate_mode as agg
from chain.rounds import keeper
from chain.rounds.candidates import candidate
from chain.rounds.errors import UnknownSubmission, UpdateDecodeError, UpdateOutOfRange, UpdateShapeMismatch
from chain.rounds.scoring_queue import enqueue_update_job
from chain.scoring.weights import encode_weights, load_weights
from chain.sealing.envelope import decode_envelope
from chain.sealing.errors import ShareMismatch
from chain.sealing.open import check_share, decrypt_share, open_update, reconstruct, valid_share_count
from chain.secagg import masks
from chain.tx.errors import ChainError

KIND_OF_RELEASE = {"seed": agg.SEED, "key": agg.KEY}


def _closed(state, model_id: int, round_: int, height: int) -> bool:
    model = registry.get_model(state, model_id)
    return model is not None and model.round_end(round_) <= height


def pending_secrets(state, height: int) -> list[tuple[dict, dict, int]]:
    """(round record, member record, kind) of every marked secret of an unmasking cohort, for rounds whose
    window closed by `height`; in (deadline, model, round, cohort, seq) order."""
    out = []
    for _, model_id, round_ in keeper.unsettled_rounds(state):
        record = keeper.get_round(state, model_id, round_)
        if record.get("privacy") != "aggregate" or not _closed(state, model_id, round_, height):
            continue
        for cohort in agg.cohorts(state, model_id, round_):
            if cohort["status"] != agg.UNMASKING:
                continue
            for seq in cohort["members"]:
                member = agg.get_member(state, model_id, round_, seq)
                out.append((record, member, KIND_OF_RELEASE[member["release"]]))
    return out


def decrypt_secret_share(state, private_key: bytes, record: dict, member: dict, kind: int, index: int) -> bytes:
    raw = agg.secret_envelope(state, record["model_id"], record["round"], member["seq"], kind)
    return decrypt_share(private_key, decode_envelope(raw, max_payload_bytes=agg.SECRET_BYTES), index)


def check_secret_share(state, height: int, s, operator: bytes | None) -> None:
    """A released share of a member secret: the secret is the one marked for that member, its cohort is
    unmasking, the sealing-set member is the signer's (if given), not on chain yet, and it matches."""
    record = keeper.get_round(state, s.model_id, s.round)
    member = agg.get_member(state, s.model_id, s.round, s.seq) if record is not None else None
    if member is None:
        raise UnknownSubmission(f"no member {s.seq} in round {s.round} of model {s.model_id}")
    if KIND_OF_RELEASE.get(member.get("release")) != s.kind or member["status"] not in (agg.SUBMITTED, agg.DROPPED):
        raise ShareMismatch(f"member {s.seq}'s secret {s.kind} is not marked for release")
    cohort = agg.get_cohort(state, s.model_id, s.round, member["cohort"])
    if cohort["status"] != agg.UNMASKING or not _closed(state, s.model_id, s.round, height):
        raise ShareMismatch(f"cohort {member['cohort']} is not unmasking at height {height}")
    entry = next((m for m in record["sealing_set"] if m["index"] == s.validator_index), None)
    if entry is None or (operator is not None and bytes.fromhex(entry["operator"]) != operator):
        raise ShareMismatch(f"validator index {s.validator_index} is not the signer's in round {s.round}")
    if agg.has_member_share(state, s.model_id, s.round, s.seq, s.kind, s.validator_index):
        raise ShareMismatch(f"share {s.slot} is already on chain")
    raw = agg.secret_envelope(state, s.model_id, s.round, s.seq, s.kind)
    check_share(decode_envelope(raw, max_payload_bytes=agg.SECRET_BYTES), s.validator_index, s.share)


def _open_secret(state, ctx, model_id: int, round_: int, member: dict, kind: int) -> bytes | None:
    """The member's marked secret if its shares reach the threshold; raises the sealing error if it does not
    open (the member's fault); None while shares are missing."""
    envelope = decode_envelope(agg.secret_envelope(state, model_id, round_, member["seq"], kind),
                               max_payload_bytes=agg.SECRET_BYTES)
    released = agg.member_shares(state, model_id, round_, member["seq"], kind)
    if valid_share_count(envelope, released) < envelope.threshold:
        return None
    context = agg.secret_context(ctx.chain_id, model_id, round_, bytes.fromhex(member["member"]), kind)
    secret = open_update(envelope, reconstruct(envelope, released), context)
    if len(secret) != agg.SECRET_BYTES or (kind == agg.KEY and masks.public_key(secret).hex() != member["round_pubkey"]):
        raise masks.SecaggError("the released secret is not the member's (length or round public key)")
    return secret


def try_unmask(state, ctx, model_id: int, round_: int, cohort_index: int) -> list[Event]:
    cohort = agg.get_cohort(state, model_id, round_, cohort_index)
    if cohort["status"] != agg.UNMASKING:
        return []
    group = [agg.get_member(state, model_id, round_, seq) for seq in cohort["members"]]
    secrets, faulty = {}, []
    for member in group:
        kind = KIND_OF_RELEASE[member["release"]]
        try:
            secret = _open_secret(state, ctx, model_id, round_, member, kind)
        except ChainError as e:
            faulty.append((member, f"{e.codespace}/{e.code}"))
            continue
        if secret is None:
            return []          # still waiting for shares
        secrets[member["seq"]] = secret
    if faulty:
        return _invalid(state, ctx, model_id, round_, cohort, group, faulty, "a member's sealed secret does not open")
    submitters = [m for m in group if m["status"] == agg.SUBMITTED]
    ctx_bytes = masks.context(ctx.chain_id, model_id, round_, cohort_index)
    record = keeper.get_round(state, model_id, round_)
    spec = registry.stored_spec(state, model_id)
    shapes = [w.shape for w in load_weights(registry.weights_bytes(state, model_id, record["base_version"]), spec)]
    masked = {m["seq"]: masks.decode_vector(agg.get_masked(state, model_id, round_, m["seq"])) for m in submitters}
    total = masks.unmask_sum(masked, {m["seq"]: secrets[m["seq"]] for m in submitters},
                             {m["seq"]: secrets[m["seq"]] for m in group if m["status"] == agg.DROPPED},
                             {m["seq"]: bytes.fromhex(m["round_pubkey"]) for m in group}, ctx_bytes)
    n = len(total)   # the model's parameter count: every masked vector was checked to have it
    mean = masks.mean_of_sum(total, len(submitters))
    plaintext = encode_weights(masks.unflatten(mean, shapes))
    seq = record["submissions"]
    keeper.put_round(state, {**record, "submissions": seq + 1})
    digest = hashlib.sha256(plaintext).hexdigest()
    commitment = hashlib.sha256(b"".join(bytes.fromhex(m["masked_hash"]) for m in submitters)).hexdigest()
    sub = {"seq": seq, "height": ctx.height, "submitter": submitters[0]["member"], "parent": record["base_version"],
           "deposit": "0", "deposit_denom": submitters[0]["deposit_denom"], "envelope_hash": commitment,
           "envelope_size": sum(8 * n for _ in submitters), "status": keeper.OPENED, "opened_height": ctx.height,
           "update_hash": digest, "update_size": len(plaintext), "cohort": cohort_index,
           "members": [m["seq"] for m in submitters]}
    keeper.put_submission(state, model_id, round_, sub)
    keeper.put_update(state, model_id, round_, seq, plaintext)
    for member in group:
        agg.delete_member_payloads(state, model_id, round_, member["seq"])
    events = [Event("cohort_unmasked", agg._attrs(model_id, round_, ("cohort", str(cohort_index)), ("seq", str(seq)),
                                                  ("members", ",".join(str(m["seq"]) for m in submitters)),
                                                  ("update_hash", digest)))]
    try:
        candidate(state, model_id, round_, seq)
    except (UpdateDecodeError, UpdateShapeMismatch, UpdateOutOfRange) as e:
        reason = f"{e.codespace}/{e.code}"
        keeper.put_submission(state, model_id, round_, {**sub, "status": keeper.INVALID, "reason": reason})
        return events + _invalid(state, ctx, model_id, round_, cohort, group, [], "the cohort's mean is not a valid "
                                 f"delta ({reason}): some member submitted an out-of-range update", seq=seq)
    for member in group:
        if member["status"] == agg.DROPPED:
            events.append(agg.settle_member(state, ctx, model_id, round_, member, "dropout", 0))
    agg.put_cohort(state, model_id, round_, {**cohort, "status": agg.UNMASKED, "submission": seq, "height": ctx.height})
    enqueue_update_job(state, ctx.height, model_id, round_, sub)
    return events


def _invalid(state, ctx, model_id, round_, cohort, group, faulty, reason, seq=None) -> list[Event]:
    """Nothing unmasked: a member whose secret failed forfeits; every other member is refunded."""
    at_fault = {m["seq"]: why for m, why in faulty}
    events = []
    for member in group:
        if member["seq"] in at_fault:
            events.append(agg.forfeit_member(state, ctx, model_id, round_, member, at_fault[member["seq"]]))
        else:
            events.append(agg.void_member(state, ctx, model_id, round_, member, reason))
    agg.put_cohort(state, model_id, round_, {**cohort, "status": agg.COHORT_INVALID, "reason": reason,
                                             "height": ctx.height, **({"submission": seq} if seq is not None else {})})
    return events + [Event("cohort_invalid", agg._attrs(model_id, round_, ("cohort", str(cohort["cohort"])),
                                                        ("reason", reason)))]


def release_deadline(state, ctx, model_id: int, round_: int) -> tuple[Event, ...]:
    """At the release deadline a cohort still unmasking (shares of >= 2/3 never came) is void: nothing is
    unmasked, every member is refunded (as for a sealed update, whose fault it is cannot be told)."""
    events = []
    for cohort in agg.cohorts(state, model_id, round_):
        if cohort["status"] != agg.UNMASKING:
            continue
        reason = "not enough shares by the deadline"
        for seq in cohort["members"]:
            events.append(agg.void_member(state, ctx, model_id, round_, agg.get_member(state, model_id, round_, seq),
                                          reason))
        agg.put_cohort(state, model_id, round_, {**cohort, "status": agg.COHORT_VOID, "reason": reason,
                                                 "height": ctx.height})
    return tuple(events)
