"""registry message handlers (thin: check everything, then apply) and the end-of-block step."""
from __future__ import annotations

import hashlib

from chain.auth import params as auth_params
from chain.auth.ante import FEES
from chain.bank import keeper as bank
from chain.registry.errors import (ChunkOutOfRange, ChunkTooLarge, DuplicateChunk, InvalidModelTerms, ModelClosed,
                                   ModelNotActive, ModelNotExpired, ModelNotUploading, NotModelOwner,
                                   RevealTooEarly, RevealTooLate, RoundAlreadyRevealed, ShardAlreadyRevealed,
                                   WeightsHashMismatch, WrongChunkSize, WrongEscrowDenom)
from chain.scoring.errors import InvalidMerkleProof
from chain.tx.errors import ChainError
from chain.registry import keeper, scoring_queue
from chain.registry import params as rparams
from chain.registry.model import ACTIVE, CLOSED, UPLOADING, Model
from chain.results import BlockContext, Event
from chain.scoring.shards import decode_proof, load_shard, shard_hash, verify_shard_proof
from chain.scoring.spec import count_params, linear_layers, load_spec, spec_hash
from chain.scoring.weights import load_weights
from chain.tx.address import to_bech32
from chain.registry.messages import MsgFundBounty, MsgRegisterModel, MsgUploadWeights
from chain.rounds.messages import MsgCloseModel, MsgRevealShard


def _coin(denom: str, amount: int) -> str:
    return f"{amount}{denom}"


def _coins(coins: list[tuple[str, int]]) -> str:
    return ",".join(_coin(d, a) for d, a in coins)


def _open_model(state, model_id: int, signer: bytes | None = None) -> Model:
    """The model, which must not be closed; and, given a signer, must be the signer's."""
    model = keeper.require_model(state, model_id)
    if signer is not None and model.owner_bytes != signer:
        raise NotModelOwner(f"model {model_id} belongs to {to_bech32(model.owner_bytes)}")
    if model.status == CLOSED:
        raise ModelClosed(f"model {model_id} is closed")
    return model


def validate_weights_size(spec, weights_size: int) -> None:
    """Every tensor element takes 4 (int32) or 8 (int64) bytes, plus a few bytes of framing per tensor."""
    params = count_params(spec)
    tensors = 2 * len(linear_layers(spec))
    if not 4 * params <= weights_size <= 8 * params + 64 * tensors:
        raise InvalidModelTerms(f"weights_size {weights_size} cannot hold this spec's {params} parameters "
                                f"({4 * params}..{8 * params + 64 * tensors} bytes)")


def process_register_model(state, ctx: BlockContext, signer: bytes, msg: MsgRegisterModel) -> tuple[Event, ...]:
    params = rparams.load(state)
    native = auth_params.load(state).fee_denom
    spec = load_spec(msg.spec, params.max_params)
    validate_weights_size(spec, msg.weights_size)
    if msg.shard_count > params.max_shards:
        raise InvalidModelTerms(f"at most {params.max_shards} validation shards, got {msg.shard_count}")
    if msg.expiry_height <= ctx.height:
        raise InvalidModelTerms(f"expiry_height {msg.expiry_height} must be after the current height {ctx.height}")
    if msg.bond.denom != native or msg.deposit.denom != native:
        raise WrongEscrowDenom(f"bond and deposit are paid in the native denom {native}")
    bounty, bond = msg.bounty.validate(), msg.bond.validate()
    escrow = keeper.merge_coins([(msg.bounty.denom, bounty), (native, bond)])
    bank.validate_send(state, signer, escrow)

    keeper.escrow_in(state, signer, escrow)
    model_id = keeper.allocate_model_id(state)
    model = Model(id=model_id, owner=signer.hex(), status=UPLOADING, spec_hash=spec_hash(spec).hex(),
                  weights_hash=msg.weights_hash.hex(), weights_size=msg.weights_size,
                  chunk_size=params.max_chunk_bytes, chunks_received=0, shard_root=msg.shard_root.hex(),
                  shard_count=msg.shard_count, bounty_denom=msg.bounty.denom, escrow=str(bounty), bond_denom=native,
                  bond=str(bond), deposit_denom=native, deposit=str(msg.deposit.validate()),
                  round_blocks=msg.round_blocks, reveal_blocks=msg.reveal_blocks,
                  min_improvement=msg.min_improvement, target_score=msg.target_score, metric=msg.metric,
                  reward_curve=[[p.progress_bps, p.payout_bps] for p in msg.reward_curve],
                  expiry_height=msg.expiry_height, registered_height=ctx.height, max_regression=msg.max_regression)
    keeper.put_spec(state, model_id, msg.spec)
    keeper.put_model(state, model)
    keeper.index_expiry(state, model)
    return (Event("register_model", (("model_id", str(model_id)), ("owner", to_bech32(signer)),
                                     ("bounty", _coin(msg.bounty.denom, bounty)), ("bond", _coin(native, bond)),
                                     ("chunks", str(model.chunk_count)), ("chunk_size", str(model.chunk_size)))),)


def _rejected(error: ChainError, model: Model) -> ChainError:
    """The completed upload is unusable: fail with `error`, and delete the stored chunks even though the
    message fails (chain.app applies `on_failure` outside the discarded message branch)."""
    rejected = type(error)(f"{error}; the stored chunks of model {model.id} were deleted: upload the weights again")
    rejected.on_failure = lambda state: keeper.reset_upload(state, model.id)
    return rejected


def process_upload_weights(state, ctx: BlockContext, signer: bytes, msg: MsgUploadWeights) -> tuple[Event, ...]:
    model = _open_model(state, msg.model_id, signer)
    if model.status != UPLOADING:
        raise ModelNotUploading(f"model {model.id} already has its weights")
    if msg.index >= model.chunk_count:
        raise ChunkOutOfRange(f"chunk index {msg.index} is not below the chunk count {model.chunk_count}")
    if len(msg.data) > model.chunk_size:
        raise ChunkTooLarge(f"chunk is {len(msg.data)} bytes; this model's chunks are {model.chunk_size} bytes")
    if len(msg.data) != model.chunk_length(msg.index):
        raise WrongChunkSize(f"chunk {msg.index} must be {model.chunk_length(msg.index)} bytes, got {len(msg.data)}")
    if keeper.has_chunk(state, model.id, 0, msg.index):
        raise DuplicateChunk(f"chunk {msg.index} of model {model.id} is already stored")
    received = model.chunks_received + 1
    event = Event("upload_weights", (("model_id", str(model.id)), ("index", str(msg.index)),
                                     ("received", str(received)), ("chunks", str(model.chunk_count))))
    if received < model.chunk_count:
        keeper.put_chunk(state, model.id, 0, msg.index, msg.data)
        keeper.put_model(state, model.with_(chunks_received=received))
        return (event,)

    parts = dict(keeper.chunks(state, model.id, 0))
    parts[msg.index] = msg.data
    raw = b"".join(parts[i] for i in range(model.chunk_count))
    if hashlib.sha256(raw).hexdigest() != model.weights_hash:
        raise _rejected(WeightsHashMismatch("the uploaded weights do not hash to the registered weights_hash"), model)
    try:
        load_weights(raw, keeper.stored_spec(state, model.id))
    except ChainError as e:
        raise _rejected(e, model) from None

    keeper.put_chunk(state, model.id, 0, msg.index, msg.data)
    keeper.put_version(state, model.id, {"version": 0, "parent": None, "weights_hash": model.weights_hash,
                                         "weights_size": model.weights_size, "height": ctx.height})
    active = model.with_(status=ACTIVE, chunks_received=received, activated_height=ctx.height, head_version=0,
                         version_count=1)
    keeper.put_model(state, active)
    return (event, Event("model_active", (("model_id", str(model.id)), ("round_0_start", str(active.first_round_start)),
                                          ("round_blocks", str(active.round_blocks)))))


def process_fund_bounty(state, ctx: BlockContext, signer: bytes, msg: MsgFundBounty) -> tuple[Event, ...]:
    model = _open_model(state, msg.model_id)
    if msg.amount.denom != model.bounty_denom:
        raise WrongEscrowDenom(f"model {model.id}'s bounty is in {model.bounty_denom}, not {msg.amount.denom}")
    amount = msg.amount.validate()
    keeper.escrow_in(state, signer, [(model.bounty_denom, amount)])
    keeper.put_model(state, model.with_(escrow=str(int(model.escrow) + amount)))
    return (Event("fund_bounty", (("model_id", str(model.id)), ("funder", to_bech32(signer)),
                                  ("amount", _coin(model.bounty_denom, amount)))),)


def process_reveal_shard(state, ctx: BlockContext, signer: bytes, msg: MsgRevealShard) -> tuple[Event, ...]:
    params = rparams.load(state)
    native = auth_params.load(state).fee_denom
    model = _open_model(state, msg.model_id, signer)
    if model.status != ACTIVE:
        raise ModelNotActive(f"model {model.id} is still uploading its weights")
    if ctx.height < model.round_end(msg.round):
        raise RevealTooEarly(f"round {msg.round} accepts submissions until height {model.round_end(msg.round) - 1}; "
                             f"reveal from {model.round_end(msg.round)}")
    if ctx.height >= model.reveal_deadline(msg.round):
        raise RevealTooLate(f"round {msg.round}'s reveal window ended at height {model.reveal_deadline(msg.round) - 1}")
    if keeper.get_reveal(state, model.id, msg.round) is not None:
        raise RoundAlreadyRevealed(f"round {msg.round} of model {model.id} already has its shard")
    if keeper.get_shard(state, model.id, msg.shard_index) is not None:
        raise ShardAlreadyRevealed(f"shard {msg.shard_index} of model {model.id} is already revealed")
    spec = keeper.stored_spec(state, model.id)
    _, labels = load_shard(msg.shard, spec, params.max_shard_samples)
    proof = decode_proof(msg.proof)
    if proof.index != msg.shard_index:
        raise InvalidMerkleProof(f"the proof is for shard {proof.index}, not {msg.shard_index}")
    verify_shard_proof(bytes.fromhex(model.shard_root), model.shard_count, shard_hash(msg.shard), proof)
    samples, per_sample = len(labels), scoring_queue.work_per_sample(spec)
    fee = samples * per_sample * params.fee_per_work_unit
    if fee:
        bank.validate_send(state, signer, [(native, fee)])

    if fee:
        FEES.collect(state, signer, [(native, fee)])
    keeper.put_shard(state, model.id, msg.shard_index, msg.shard)
    keeper.put_reveal(state, model.id, msg.round, {"shard_index": msg.shard_index, "height": ctx.height,
                                                   "version": model.head_version})
    job = scoring_queue.new_job(model.id, model.head_version, msg.round, msg.shard_index, samples, per_sample)
    keeper.enqueue(state, ctx.height, job)
    from chain.rounds import keeper as rounds
    from chain.rounds.update import enqueue_update_job
    updates = [s for s in rounds.submissions(state, model.id, msg.round) if s["status"] == rounds.OPENED]
    for sub in updates:  # each valid opened update's candidate, on the same shard, after the head
        enqueue_update_job(state, ctx.height, model.id, msg.round, sub)
    if rounds.get_round(state, model.id, msg.round) is not None:   # closes once every score is in
        from chain.rounds.settle import index_close
        index_close(state, model.id, msg.round)
    keeper.put_model(state, model.with_(revealed_count=model.revealed_count + 1))
    return (Event("reveal_shard", (("model_id", str(model.id)), ("round", str(msg.round)),
                                   ("shard_index", str(msg.shard_index)), ("samples", str(samples)),
                                   ("work", str(samples * per_sample)), ("scoring_fee", _coin(native, fee)),
                                   ("updates", str(len(updates))))),)


def process_close_model(state, ctx: BlockContext, signer: bytes, msg: MsgCloseModel) -> tuple[Event, ...]:
    model = _open_model(state, msg.model_id, signer)
    if model.status == ACTIVE and ctx.height < model.expiry_height:
        raise ModelNotExpired(f"model {model.id} can be closed from height {model.expiry_height}")
    return _close(state, ctx, model, "owner")


def _close(state, ctx: BlockContext, model: Model, reason: str) -> tuple[Event, ...]:
    """Refund the held deposits of the model's rounds, then its unspent bounty and its bond."""
    from chain.rounds.settle import model_closed
    events = model_closed(state, ctx, model.id)
    model = keeper.get_model(state, model.id)
    return events + (_closed_event(model, keeper.close(state, model), reason),)


def _closed_event(model: Model, refund, reason: str) -> Event:
    return Event("close_model", (("model_id", str(model.id)), ("owner", to_bech32(model.owner_bytes)),
                                 ("refund", _coins(refund)), ("reason", reason)))


def run_scoring(state, ctx: BlockContext) -> tuple[Event, ...]:
    """Run queued scoring within the block's budget. Writes nothing when there is no job."""
    return scoring_queue.run(state, ctx, rparams.load(state))


def close_expired(state, ctx: BlockContext) -> tuple[Event, ...]:
    """Close expired models, by id, after the rounds module had its turn in this block (a round whose
    reveal deadline is the expiry height is voided or closed first). Writes nothing if nothing expires."""
    events: tuple[Event, ...] = ()
    for model_id in keeper.expired_ids(state, ctx.height):
        events += _close(state, ctx, keeper.get_model(state, model_id), "expired")
    return events
