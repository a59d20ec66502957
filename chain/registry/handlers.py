"""registry message handlers (thin: check everything, then apply): registering a model, uploading its
weights, funding its bounty. Reveals, scoring and closing belong to rounds (chain/rounds/reveal.py, close.py)."""
from __future__ import annotations

import hashlib

from chain.auth import params as auth_params
from chain.bank import keeper as bank
from chain.registry import keeper
from chain.registry import params as rparams
from chain.registry.errors import (ChunkOutOfRange, ChunkTooLarge, DuplicateChunk, InvalidModelTerms, ModelClosed,
                                   ModelNotUploading, NotModelOwner, TooManyOpenModels, WeightsHashMismatch,
                                   WrongChunkSize, WrongEscrowDenom)
from chain.registry.messages import MsgFundBounty, MsgRegisterModel, MsgUploadWeights
from chain.registry.model import ACTIVE, AGGREGATE, CLOSED, UPLOADING, Model
from chain.secagg.masks import MAX_MASKED_BYTES
from chain.results import BlockContext, Event
from chain.scoring.spec import count_params, linear_layers, load_spec, spec_hash
from chain.scoring.weights import load_weights
from chain.tx.address import to_bech32
from chain.tx.errors import ChainError


def coin_text(denom: str, amount: int) -> str:
    return f"{amount}{denom}"


def coins_text(coins: list[tuple[str, int]]) -> str:
    return ",".join(coin_text(d, a) for d, a in coins)


def open_model(state, model_id: int, signer: bytes | None = None) -> Model:
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
    _check_privacy(params, spec, msg)
    if len(keeper.open_models_of(state, signer, params.max_open_models_per_owner)) >= params.max_open_models_per_owner:
        raise TooManyOpenModels(f"{to_bech32(signer)} already holds {params.max_open_models_per_owner} open models "
                                f"(registry param max_open_models_per_owner): close one first")
    escrow = keeper.merge_coins([(msg.bounty.denom, bounty), (native, bond)])
    fee = params.registration_fee
    bank.validate_send(state, signer, keeper.merge_coins(escrow + [(native, fee)]))

    keeper.pay_fee(state, signer, [(native, fee)])
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
                  expiry_height=msg.expiry_height, registered_height=ctx.height, max_regression=msg.max_regression,
                  privacy=msg.privacy_mode, cohort_size=msg.cohort_size, aggregator=msg.aggregator_kind)
    keeper.put_spec(state, model_id, msg.spec)
    keeper.put_model(state, model)
    keeper.index_expiry(state, model)
    keeper.index_owner(state, model)
    return (Event("register_model", (("model_id", str(model_id)), ("owner", to_bech32(signer)),
                                     ("bounty", coin_text(msg.bounty.denom, bounty)), ("bond", coin_text(native, bond)),
                                     ("chunks", str(model.chunk_count)), ("chunk_size", str(model.chunk_size)),
                                     ("registration_fee", coin_text(native, fee)),
                                     ("privacy", model.privacy), ("cohort_size", str(model.cohort_size)))),)


def _check_privacy(params, spec, msg: MsgRegisterModel) -> None:
    """Aggregate mode: k within the registry params' bounds, and a masked update (8 bytes per parameter)
    that fits in one tx."""
    if msg.privacy_mode != AGGREGATE:
        return
    if not params.min_cohort_size <= msg.cohort_size <= params.max_cohort_size:
        raise InvalidModelTerms(f"cohort_size must be {params.min_cohort_size}..{params.max_cohort_size} "
                                f"(registry params min_cohort_size, max_cohort_size), got {msg.cohort_size}")
    if 8 * count_params(spec) > MAX_MASKED_BYTES:
        raise InvalidModelTerms(f"an aggregate-mode model has at most {MAX_MASKED_BYTES // 8} parameters (a masked "
                                f"update of 8 bytes each travels in one tx); this one has {count_params(spec)}")


def _rejected(error: ChainError, model: Model) -> ChainError:
    """The completed upload is unusable: fail with `error`, and delete the stored chunks even though the
    message fails (chain.app applies `on_failure` outside the discarded message branch)."""
    rejected = type(error)(f"{error}; the stored chunks of model {model.id} were deleted: upload the weights again")
    rejected.on_failure = lambda state: keeper.reset_upload(state, model.id)
    return rejected


def process_upload_weights(state, ctx: BlockContext, signer: bytes, msg: MsgUploadWeights) -> tuple[Event, ...]:
    model = open_model(state, msg.model_id, signer)
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
    model = open_model(state, msg.model_id)
    if msg.amount.denom != model.bounty_denom:
        raise WrongEscrowDenom(f"model {model.id}'s bounty is in {model.bounty_denom}, not {msg.amount.denom}")
    amount = msg.amount.validate()
    keeper.escrow_in(state, signer, [(model.bounty_denom, amount)])
    keeper.put_model(state, model.with_(escrow=str(int(model.escrow) + amount)))
    return (Event("fund_bounty", (("model_id", str(model.id)), ("funder", to_bech32(signer)),
                                  ("amount", coin_text(model.bounty_denom, amount)))),)
