"""Aggregate mode: a round that publishes only cohort sums, never a single update (docs/privacy.md,
"Aggregate mode"; the construction of Bonawitz et al. 2017, chain/secagg/masks.py).

Round r of an aggregate-mode model, with k = the model's cohort_size:

* joins, heights [round_start, join_end): MsgJoinRound escrows the deposit and the scoring prepayment and
  stores a fresh X25519 round public key and two envelopes sealed to the round's sealing set: the round
  private key and a self-mask seed. One join per account per round.
* end of block join_end - 1: the joiners are cut into cohorts of k..2k-1 (chain/secagg/cohorts.py) with a
  seed hashed from that block's header hash: nobody could know it when joining, and it covers the joins.
  Fewer than k joiners make no cohort: every join is void and refunded.
* masked updates, heights [join_end, round_end): MsgSubmitMasked, one per member, 8 bytes per parameter.
* end of block round_end - 1: a cohort with fewer than k masked updates is void (nothing is released or
  unmasked, every member refunded). In the others each member is marked for exactly one release: its
  self seed if it submitted, its round key if it dropped out (never both).
* from round_end: validators release those shares in vote extensions (chain/rounds/release.py, kinds
  KEY and SEED); once every marked secret of a cohort reaches the threshold, chain/rounds/unmask.py
  removes the masks and stores the cohort's mean delta as one OPENED submission, scored and settled like
  any other (chain/rounds/settle.py); the masked vectors and the members' secrets are deleted.

Pure: reads committed state and the block context only.
"""
from __future__ import annotations

import hashlib

from chain.bank.keeper import validate_send
from chain.codec import u64
from chain.registry import keeper as registry
from chain.registry.errors import ModelClosed, ModelNotActive
from chain.registry.model import ACTIVE, CLOSED, Model
from chain.results import BlockContext, Event
from chain.rounds import fees, keeper, keys
from chain.rounds import params as rparams
from chain.rounds.errors import (AlreadyJoined, NotCohortMember, RoundFull, RoundNotOpen, StaleParent, UnknownParent,
                                 WrongPrivacyMode)
from chain.rounds.keeper import DROPPED, JOINED, MEMBER_HELD, SUBMITTED   # a member's statuses while held
from chain.rounds.messages import MsgJoinRound, MsgSubmitMasked
from chain.rounds.records import Cohort, Member
from chain.scoring.spec import count_params
from chain.sealing.envelope import check_envelope, decode_envelope, envelope_hash, seal_context
from chain.secagg import cohorts as cohort_rule
from chain.secagg import masks
from chain.secagg.errors import SecaggError
from chain.store.kv import prefix_end
from chain.tx.address import to_bech32

KEY, SEED = 1, 2                      # a member's two sealed secrets (ReleasedShare.kind)
SECRET_TAGS = {KEY: b"gradchain/secagg/v1/round-key\x00", SEED: b"gradchain/secagg/v1/self-seed\x00"}
SECRET_BYTES = 32
MASKING, UNMASKING, UNMASKED, COHORT_VOID, COHORT_INVALID = "masking", "unmasking", "unmasked", "void", "invalid"
SEED_TAG = b"gradchain/secagg/v1/cohort-seed\x00"


def secret_context(chain_id: str, model_id: int, round_: int, member: bytes, kind: int) -> bytes:
    """What a member's secret is sealed for: the update context plus which secret, so one envelope can
    never stand in for the other."""
    return seal_context(chain_id, model_id, round_, member) + SECRET_TAGS[kind]


# --- records ---------------------------------------------------------------------------------------------
def _iterate(state, prefix: bytes):
    return state.iterate(prefix, prefix_end(prefix))


def get_member(state, model_id: int, round_: int, seq: int) -> dict | None:
    raw = state.get(keys.member_key(model_id, round_, seq))
    return Member.decode(raw) if raw is not None else None


def put_member(state, model_id: int, round_: int, record: dict) -> None:
    state.set(keys.member_key(model_id, round_, record["seq"]), Member(record).encode())


def members(state, model_id: int, round_: int) -> list[dict]:
    return [Member.decode(v) for _, v in _iterate(state, keys.members_prefix(model_id, round_))]


all_members = keeper.all_members


def member_of(state, address: bytes, model_id: int, round_: int) -> dict | None:
    raw = state.get(keys.joined_key(address, model_id, round_))
    return get_member(state, model_id, round_, int.from_bytes(raw, "big")) if raw is not None else None


def get_cohort(state, model_id: int, round_: int, cohort: int) -> dict | None:
    raw = state.get(keys.cohort_key(model_id, round_, cohort))
    return Cohort.decode(raw) if raw is not None else None


def put_cohort(state, model_id: int, round_: int, record: dict) -> None:
    state.set(keys.cohort_key(model_id, round_, record["cohort"]), Cohort(record).encode())


def cohorts(state, model_id: int, round_: int) -> list[dict]:
    return [Cohort.decode(v) for _, v in _iterate(state, keys.cohorts_prefix(model_id, round_))]


def secret_envelope(state, model_id: int, round_: int, seq: int, kind: int) -> bytes | None:
    return state.get(keys.member_secret_key(model_id, round_, seq, kind))


def member_shares(state, model_id: int, round_: int, seq: int, kind: int) -> dict[int, bytes]:
    prefix = keys.member_shares_prefix(model_id, round_, seq, kind)
    return {int.from_bytes(k[len(prefix):], "big"): v for k, v in _iterate(state, prefix)}


def put_member_share(state, model_id: int, round_: int, seq: int, kind: int, index: int, share: bytes) -> None:
    state.set(keys.member_shares_prefix(model_id, round_, seq, kind) + u64(index), share)


def has_member_share(state, model_id: int, round_: int, seq: int, kind: int, index: int) -> bool:
    return state.get(keys.member_shares_prefix(model_id, round_, seq, kind) + u64(index)) is not None


def get_masked(state, model_id: int, round_: int, seq: int) -> bytes | None:
    return state.get(keys.masked_key(model_id, round_, seq))


def delete_member_payloads(state, model_id: int, round_: int, seq: int) -> None:
    """A member's masked vector, sealed secrets and released shares: needed only until its cohort is
    unmasked or void; the record keeps their hashes."""
    state.delete(keys.masked_key(model_id, round_, seq))
    for kind in (KEY, SEED):
        state.delete(keys.member_secret_key(model_id, round_, seq, kind))
        for index in member_shares(state, model_id, round_, seq, kind):
            state.delete(keys.member_shares_prefix(model_id, round_, seq, kind) + u64(index))


# --- the phase index: cohorts at the join close, releases at the window's end -----------------------------
def index_phase(state, height: int, model_id: int, round_: int) -> None:
    state.set(keys.phase_key(height, model_id, round_), b"\x01")


def due_phases(state, height: int) -> list[tuple[int, int, int]]:
    n = len(keys.PHASE)
    return [(int.from_bytes(k[n:n + 8], "big"), int.from_bytes(k[n + 8:n + 16], "big"),
             int.from_bytes(k[n + 16:n + 24], "big"))
            for k, _ in state.iterate(keys.PHASE, keys.PHASE + u64(height + 1))]


# --- handlers --------------------------------------------------------------------------------------------
def _aggregate_model(state, model_id: int) -> Model:
    model = registry.require_model(state, model_id)
    if model.status == CLOSED:
        raise ModelClosed(f"model {model.id} is closed")
    if model.status != ACTIVE:
        raise ModelNotActive(f"model {model.id} is still uploading its weights")
    if not model.aggregate:
        raise WrongPrivacyMode(f"model {model.id} is an open-mode model: submit a sealed update (MsgSubmitUpdate)")
    return model


def _check_round_usable(model: Model, round_: int) -> None:
    if round_ >= model.shard_count:
        raise RoundNotOpen(f"model {model.id} committed to {model.shard_count} validation shards: round {round_} "
                           f"could never be revealed")
    if model.reveal_deadline(round_) > model.expiry_height:
        raise RoundNotOpen(f"round {round_} of model {model.id} could not close before the model expires")


def process_join_round(state, ctx: BlockContext, signer: bytes, msg: MsgJoinRound) -> tuple[Event, ...]:
    params = rparams.load(state)
    model = _aggregate_model(state, msg.model_id)
    start, join_end = model.round_start(msg.round), model.join_end(msg.round)
    if not start <= ctx.height < join_end:
        raise RoundNotOpen(f"round {msg.round} of model {model.id} takes joins at heights {start}..{join_end - 1}; "
                           f"this is height {ctx.height}")
    _check_round_usable(model, msg.round)
    if msg.parent_version >= model.version_count:
        raise UnknownParent(f"model {model.id} has no version {msg.parent_version}")
    record = keeper.get_round(state, model.id, msg.round)
    if record is None:   # the first join snapshots the sealing set and fixes the version every member trains
        record = keeper.new_round_record(state, model.id, msg.round, ctx.height, model.head_version,
                                         params.max_total_shares)
        record = {**record, "release_deadline": model.reveal_deadline(msg.round), "privacy": model.privacy,
                  "joins": 0}
        keeper.index_deadline(state, record["release_deadline"], model.id, msg.round)
        index_phase(state, join_end - 1, model.id, msg.round)
    if msg.parent_version != record["base_version"]:
        raise StaleParent(f"every member of round {msg.round} trains version {record['base_version']}, "
                          f"not {msg.parent_version}")
    if record["joins"] >= params.max_submissions_per_round:
        raise RoundFull(f"round {msg.round} of model {model.id} already holds {record['joins']} joins")
    if state.get(keys.joined_key(signer, model.id, msg.round)) is not None:
        raise AlreadyJoined(f"{to_bech32(signer)} already joined round {msg.round} of model {model.id}")
    masks.check_public_key(msg.round_pubkey)
    plan = keeper.plan_of(record)
    hashes = {}
    for kind, raw in ((KEY, msg.key_envelope), (SEED, msg.seed_envelope)):
        envelope = decode_envelope(raw, max_payload_bytes=SECRET_BYTES)
        check_envelope(envelope, secret_context(ctx.chain_id, model.id, msg.round, signer, kind), plan,
                       max_payload_bytes=SECRET_BYTES)
        hashes[kind] = envelope_hash(envelope).hex()
    deposit = int(model.deposit)
    if deposit:
        validate_send(state, signer, [(model.deposit_denom, deposit)])
    fee_denom, prepaid = fees.submit_prepayment(state, model)
    fees.require_funds(state, signer, [(model.deposit_denom, deposit), (fee_denom, prepaid)],
                       f"the deposit and the scoring prepayment {prepaid}{fee_denom}")

    keeper.escrow_deposit(state, signer, model.deposit_denom, deposit)
    keeper.escrow_deposit(state, signer, fee_denom, prepaid)
    seq = record["joins"]
    keeper.put_round(state, {**record, "joins": seq + 1})
    put_member(state, model.id, msg.round, {
        "seq": seq, "height": ctx.height, "member": signer.hex(), "parent": msg.parent_version,
        "round_pubkey": msg.round_pubkey.hex(), "key_envelope_hash": hashes[KEY],
        "seed_envelope_hash": hashes[SEED], "deposit": str(deposit), "deposit_denom": model.deposit_denom,
        "scoring_fee": str(prepaid), "scoring_fee_denom": fee_denom, "status": JOINED})
    state.set(keys.member_secret_key(model.id, msg.round, seq, KEY), msg.key_envelope)
    state.set(keys.member_secret_key(model.id, msg.round, seq, SEED), msg.seed_envelope)
    state.set(keys.joined_key(signer, model.id, msg.round), u64(seq))
    return (Event("join_round", (("model_id", str(model.id)), ("round", str(msg.round)), ("seq", str(seq)),
                                 ("member", to_bech32(signer)), ("deposit", f"{deposit}{model.deposit_denom}"),
                                 ("scoring_prepaid", f"{prepaid}{fee_denom}"))),)


def process_submit_masked(state, ctx: BlockContext, signer: bytes, msg: MsgSubmitMasked) -> tuple[Event, ...]:
    model = _aggregate_model(state, msg.model_id)
    join_end, end = model.join_end(msg.round), model.round_end(msg.round)
    if not join_end <= ctx.height < end:
        raise RoundNotOpen(f"round {msg.round} of model {model.id} takes masked updates at heights "
                           f"{join_end}..{end - 1}; this is height {ctx.height}")
    member = member_of(state, signer, model.id, msg.round)
    if member is None or "cohort" not in member:
        raise NotCohortMember(f"{to_bech32(signer)} is in no cohort of round {msg.round} of model {model.id}")
    if member["status"] != JOINED:
        raise NotCohortMember(f"{to_bech32(signer)} already submitted its masked update to round {msg.round}")
    n = count_params(registry.stored_spec(state, model.id))
    if len(msg.masked) != 8 * n:
        raise SecaggError(f"a masked update of model {model.id} is {8 * n} bytes (8 per parameter), "
                          f"got {len(msg.masked)}")
    digest = hashlib.sha256(msg.masked).hexdigest()
    state.set(keys.masked_key(model.id, msg.round, member["seq"]), msg.masked)
    put_member(state, model.id, msg.round, {**member, "status": SUBMITTED, "masked_hash": digest,
                                            "submitted_height": ctx.height})
    cohort = get_cohort(state, model.id, msg.round, member["cohort"])
    put_cohort(state, model.id, msg.round, {**cohort, "submitted": sorted(cohort.get("submitted", []) +
                                                                          [member["seq"]])})
    return (Event("submit_masked", (("model_id", str(model.id)), ("round", str(msg.round)),
                                    ("seq", str(member["seq"])), ("cohort", str(member["cohort"])),
                                    ("member", to_bech32(signer)), ("masked_hash", digest))),)


# --- end of block: the two phase changes -------------------------------------------------------------------
def end_block(state, ctx: BlockContext) -> tuple[Event, ...]:
    events: tuple[Event, ...] = ()
    for height, model_id, round_ in due_phases(state, ctx.height):
        state.delete(keys.phase_key(height, model_id, round_))
        model = registry.get_model(state, model_id)
        if model is None or model.status == CLOSED:
            continue
        if height == model.join_end(round_) - 1:
            events += form_cohorts(state, ctx, model, round_)
        else:
            events += resolve_cohorts(state, ctx, model, round_)
    return events


def cohort_seed(block_hash: bytes, height: int, model_id: int, round_: int) -> bytes:
    return hashlib.sha256(SEED_TAG + u64(len(block_hash)) + block_hash + u64(height, model_id, round_)).digest()


def form_cohorts(state, ctx: BlockContext, model: Model, round_: int) -> tuple[Event, ...]:
    record = keeper.get_round(state, model.id, round_)
    joined = members(state, model.id, round_)
    seed = cohort_seed(ctx.block_hash, ctx.height, model.id, round_)
    groups = cohort_rule.assign([u64(m["seq"]) for m in joined], seed, model.cohort_size)
    events = []
    for c, group in enumerate(groups):
        seqs = sorted(int.from_bytes(g, "big") for g in group)
        put_cohort(state, model.id, round_, {"cohort": c, "members": seqs, "status": MASKING, "submitted": []})
        for seq in seqs:
            put_member(state, model.id, round_, {**get_member(state, model.id, round_, seq), "cohort": c})
        events.append(Event("cohort_formed", _attrs(model.id, round_, ("cohort", str(c)),
                                                    ("members", ",".join(map(str, seqs))))))
    if not groups:   # fewer than k joined: nothing can be aggregated
        for m in joined:
            events.append(void_member(state, ctx, model.id, round_, m, f"fewer than {model.cohort_size} joined"))
    else:
        index_phase(state, model.round_end(round_) - 1, model.id, round_)
    keeper.put_round(state, {**record, "cohort_seed": seed.hex(), "cohorts": len(groups)})
    return tuple(events)


def resolve_cohorts(state, ctx: BlockContext, model: Model, round_: int) -> tuple[Event, ...]:
    """The window's last block: each cohort with at least k masked updates has one secret per member marked
    for release (its seed if it submitted, its round key if not); the others are void."""
    events = []
    for cohort in cohorts(state, model.id, round_):
        if cohort["status"] != MASKING:
            continue
        submitted = set(cohort.get("submitted", []))
        if len(submitted) < model.cohort_size:
            reason = f"{len(submitted)} of {len(cohort['members'])} members submitted; a sum needs {model.cohort_size}"
            for seq in cohort["members"]:
                events.append(void_member(state, ctx, model.id, round_, get_member(state, model.id, round_, seq),
                                          reason))
            put_cohort(state, model.id, round_, {**cohort, "status": COHORT_VOID, "reason": reason,
                                                 "height": ctx.height})
            events.append(Event("cohort_void", _attrs(model.id, round_, ("cohort", str(cohort["cohort"])),
                                                      ("reason", reason))))
            continue
        for seq in cohort["members"]:
            m = get_member(state, model.id, round_, seq)
            if seq in submitted:
                put_member(state, model.id, round_, {**m, "release": "seed"})
            else:
                put_member(state, model.id, round_, {**m, "status": DROPPED, "release": "key"})
        put_cohort(state, model.id, round_, {**cohort, "status": UNMASKING})
        events.append(Event("cohort_unmasking", _attrs(model.id, round_, ("cohort", str(cohort["cohort"])),
                                                       ("submitted", str(len(submitted))),
                                                       ("dropouts", str(len(cohort["members"]) - len(submitted))))))
    return tuple(events)


# --- settling members ------------------------------------------------------------------------------------
def _attrs(model_id: int, round_: int, *more) -> tuple:
    return (("model_id", str(model_id)), ("round", str(round_))) + tuple(more)


def settle_prepayment(state, member: dict, due: int = 0) -> dict:
    """A member's scoring prepayment: `due` (its part of its cohort's job, 0 if none ran) to the fee
    collector, the rest back. Returns the record with scoring_fee_refund (the caller stores it)."""
    prepaid = int(member["scoring_fee"])
    if "scoring_fee_refund" in member:
        return member
    due = min(prepaid, due)
    if due:
        keeper.BANK.pay(state, keeper.FEE_COLLECTOR, [(member["scoring_fee_denom"], due)])
    if prepaid - due:
        keeper.BANK.pay(state, bytes.fromhex(member["member"]), [(member["scoring_fee_denom"], prepaid - due)])
    return {**member, "scoring_fee_refund": str(prepaid - due)}


def void_member(state, ctx, model_id: int, round_: int, member: dict, reason: str, compensation: int = 0) -> Event:
    """Deposit and prepayment back (plus `compensation` from the owner's bond, paid by the caller); the
    member's payloads are deleted."""
    deposit = int(member["deposit"])
    if deposit:
        keeper.BANK.pay(state, bytes.fromhex(member["member"]), [(member["deposit_denom"], deposit)])
    member = settle_prepayment(state, member)
    put_member(state, model_id, round_, {**member, "status": keeper.VOID, "reason": reason, "deposit_returned": True,
                                         "compensation": str(compensation), "settled_height": ctx.height})
    delete_member_payloads(state, model_id, round_, member["seq"])
    return Event("member_void", _attrs(model_id, round_, ("seq", str(member["seq"])),
                                       ("refunded", f"{deposit}{member['deposit_denom']}"), ("reason", reason)))


def forfeit_member(state, ctx, model_id: int, round_: int, member: dict, reason: str) -> Event:
    """A member whose sealed secret does not open (provably its own fault): deposit to the community pool."""
    from chain.validators.keeper import COMMUNITY_POOL
    deposit = int(member["deposit"])
    if deposit:
        keeper.BANK.pay(state, COMMUNITY_POOL, [(member["deposit_denom"], deposit)])
    member = settle_prepayment(state, member)
    put_member(state, model_id, round_, {**member, "status": keeper.INVALID, "reason": reason,
                                         "deposit_returned": False, "settled_height": ctx.height})
    delete_member_payloads(state, model_id, round_, member["seq"])
    return Event("member_invalid", _attrs(model_id, round_, ("seq", str(member["seq"])), ("reason", reason),
                                          ("forfeited", f"{deposit}{member['deposit_denom']}")))


def settle_member(state, ctx, model_id: int, round_: int, member: dict, outcome: str, due: int,
                  pending: bool = False) -> Event:
    """A member whose cohort's sum was scored (or that dropped out of a cohort that summed): deposit back,
    its part of the cohort's scoring job charged."""
    deposit = int(member["deposit"])
    if deposit:
        keeper.BANK.pay(state, bytes.fromhex(member["member"]), [(member["deposit_denom"], deposit)])
    member = settle_prepayment(state, member, due)
    put_member(state, model_id, round_, {**member, "status": keeper.SETTLED, "outcome": outcome,
                                         "deposit_returned": True, "payout": "0", "settled_height": ctx.height,
                                         **({"payout_pending": True} if pending else {})})
    return Event("member_settled", _attrs(model_id, round_, ("seq", str(member["seq"])),
                                          ("member", to_bech32(bytes.fromhex(member["member"]))),
                                          ("outcome", outcome), ("refunded", f"{deposit}{member['deposit_denom']}")))


def void_held_members(state, ctx, model_id: int, round_: int, reason: str) -> tuple[Event, ...]:
    """Every member whose deposit is still held: refunded (the round voided or its model closed)."""
    return tuple(void_member(state, ctx, model_id, round_, m, reason)
                 for m in members(state, model_id, round_) if m["status"] in MEMBER_HELD)
