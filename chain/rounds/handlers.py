"""rounds message handlers (thin: check everything, then apply)."""
from __future__ import annotations

from chain.bank import keeper as bank
from chain.registry.errors import ModelClosed, ModelNotActive
from chain.rounds.errors import (DuplicateSubmission, RoundFull, RoundNotOpen, StaleParent, SubmitterRoundFull,
                                 UnknownParent, WrongPrivacyMode)
from chain.registry import keeper as registry
from chain.registry.model import ACTIVE, CLOSED
from chain.results import BlockContext, Event
from chain.rounds import fees, keeper
from chain.rounds import params as rparams
from chain.sealing.envelope import check_envelope, decode_envelope, envelope_hash, seal_context
from chain.tx.address import to_bech32
from chain.rounds.messages import MsgSubmitUpdate


def process_submit_update(state, ctx: BlockContext, signer: bytes, msg: MsgSubmitUpdate) -> tuple[Event, ...]:
    params = rparams.load(state)
    model = registry.require_model(state, msg.model_id)
    if model.status == CLOSED:
        raise ModelClosed(f"model {model.id} is closed")
    if model.status != ACTIVE:
        raise ModelNotActive(f"model {model.id} is still uploading its weights")
    if model.aggregate:
        raise WrongPrivacyMode(f"model {model.id} is an aggregate-mode model: join the round (MsgJoinRound) and "
                               f"submit a masked update (MsgSubmitMasked); the SDK's train_and_submit does both")
    start, end = model.round_start(msg.round), model.round_end(msg.round)
    if not start <= ctx.height < end:
        raise RoundNotOpen(f"round {msg.round} of model {model.id} takes submissions at heights {start}..{end - 1}; "
                           f"this is height {ctx.height}")
    if msg.round >= model.shard_count:   # each revealed round uses up one shard: this round could never score
        raise RoundNotOpen(f"model {model.id} committed to {model.shard_count} validation shards, so only rounds "
                           f"0..{model.shard_count - 1} can be revealed; round {msg.round} takes no submissions")
    if model.reveal_deadline(msg.round) > model.expiry_height:
        raise RoundNotOpen(f"round {msg.round}'s reveal window ends at height {model.reveal_deadline(msg.round)}, "
                           f"after model {model.id} expires at {model.expiry_height}: it could not close")
    if msg.parent_version >= model.version_count or registry.get_version(state, model.id, msg.parent_version) is None:
        raise UnknownParent(f"model {model.id} has no version {msg.parent_version}")

    record = keeper.get_round(state, model.id, msg.round)
    if record is None:  # the round's first submission snapshots the sealing set
        record = keeper.new_round_record(state, model.id, msg.round, ctx.height, model.head_version,
                                         params.max_total_shares)
        record["release_deadline"] = model.reveal_deadline(msg.round)
        keeper.index_deadline(state, record["release_deadline"], model.id, msg.round)
    if msg.parent_version not in (model.head_version, record["base_version"]):
        raise StaleParent(f"parent {msg.parent_version} is stale: train from the head version {model.head_version}")
    if record["submissions"] >= params.max_submissions_per_round:
        raise RoundFull(f"round {msg.round} of model {model.id} already holds {record['submissions']} submissions")
    if keeper.count_submissions_by(state, signer, model.id, msg.round,
                                   params.max_submissions_per_submitter) >= params.max_submissions_per_submitter:
        raise SubmitterRoundFull(f"{to_bech32(signer)} already holds {params.max_submissions_per_submitter} "
                                 f"submissions in round {msg.round} of model {model.id} "
                                 f"(rounds param max_submissions_per_submitter)")

    envelope = decode_envelope(msg.envelope, max_payload_bytes=params.max_payload_bytes)
    context = seal_context(ctx.chain_id, model.id, msg.round, signer)
    check_envelope(envelope, context, keeper.plan_of(record), max_payload_bytes=params.max_payload_bytes)
    digest = envelope_hash(envelope)
    if keeper.has_envelope_hash(state, model.id, msg.round, digest):
        raise DuplicateSubmission(f"envelope {digest.hex()} is already in round {msg.round}")
    deposit = int(model.deposit)
    if deposit:
        bank.validate_send(state, signer, [(model.deposit_denom, deposit)])
    fee_denom, prepaid = fees.submit_prepayment(state, model)   # its candidate's scoring job (rounds/fees.py)
    fees.require_funds(state, signer, [(model.deposit_denom, deposit), (fee_denom, prepaid)],
                       f"the deposit and the scoring prepayment {prepaid}{fee_denom}")

    keeper.escrow_deposit(state, signer, model.deposit_denom, deposit)
    keeper.escrow_deposit(state, signer, fee_denom, prepaid)
    seq = record["submissions"]
    keeper.put_round(state, {**record, "submissions": seq + 1})
    keeper.put_submission(state, model.id, msg.round, {
        "seq": seq, "submitter": signer.hex(), "parent": msg.parent_version, "envelope_hash": digest.hex(),
        "envelope_size": len(msg.envelope), "deposit_denom": model.deposit_denom, "deposit": str(deposit),
        "status": keeper.SEALED, "height": ctx.height, "scoring_fee": str(prepaid),
        "scoring_fee_denom": fee_denom}, msg.envelope)
    return (Event("submit_update", (("model_id", str(model.id)), ("round", str(msg.round)), ("seq", str(seq)),
                                    ("submitter", to_bech32(signer)), ("parent", str(msg.parent_version)),
                                    ("envelope_hash", digest.hex()),
                                    ("deposit", f"{deposit}{model.deposit_denom}"),
                                    ("scoring_prepaid", f"{prepaid}{fee_denom}"))),)


def end_block(state, ctx: BlockContext) -> tuple[Event, ...]:
    """Aggregate-mode rounds whose join phase or window ends here form their cohorts or mark their
    members' secrets for release (chain/rounds/aggregate_mode.py). Rounds whose release deadline (the end
    of their reveal window) has come settle: a submission still sealed, or a cohort still unmasking, is
    VOID and refunded; a round without a revealed shard is void (chain/rounds/settle.py). Then every
    revealed round that is ready closes: new head, payouts, deposits; then the payloads of rounds past their
    retention window are pruned, within the per-block cap (chain/rounds/prune.py). Writes nothing when no
    phase, deadline or prune is due and no round waits."""
    from chain.rounds import aggregate_mode, settle, unmask
    from chain.rounds.release import settle_round
    events: tuple[Event, ...] = aggregate_mode.end_block(state, ctx)   # cohorts formed, releases marked
    for deadline, model_id, round_ in keeper.due_deadlines(state, ctx.height):
        events += unmask.release_deadline(state, ctx, model_id, round_)
        events += settle_round(state, ctx, model_id, round_)
        keeper.clear_deadline(state, deadline, model_id, round_)
        events += settle.void_unrevealed(state, ctx, model_id, round_)
    from chain.rounds.prune import prune_block
    return events + settle.end_block(state, ctx) + prune_block(state, ctx)
