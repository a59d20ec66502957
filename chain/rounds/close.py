"""Closing a model, by its owner from the expiry height on, before it when no round is in flight (or while it
uploads), or automatically at expiry:
its rounds refund the deposits they still hold and drop their jobs (chain/rounds/settle.py model_closed),
then the registry returns the unspent bounty and the bond."""
from __future__ import annotations

from chain.registry import keeper as registry
from chain.registry.errors import ModelNotExpired
from chain.registry.handlers import coins_text, open_model
from chain.registry.model import ACTIVE, Model
from chain.results import BlockContext, Event
from chain.rounds import keeper as rounds_keeper
from chain.rounds.messages import MsgCloseModel
from chain.rounds.settle import model_closed
from chain.tx.address import to_bech32


def process_close_model(state, ctx: BlockContext, signer: bytes, msg: MsgCloseModel) -> tuple[Event, ...]:
    model = open_model(state, msg.model_id, signer)
    if model.status == ACTIVE and ctx.height < model.expiry_height:
        busy = round_in_flight(state, model)
        if busy is not None:   # trainers are working in it: closing now would take their chance of a payout
            raise ModelNotExpired(f"model {model.id} can be closed before its expiry height {model.expiry_height} "
                                  f"only when no round is in flight; round {busy} has not closed yet")
    return _close(state, ctx, model, "owner")


def round_in_flight(state, model: Model) -> int | None:
    """A round of the model that took submissions (or joins) and has not closed or voided yet."""
    for record in rounds_keeper.rounds_of(state, model.id):
        if "closed_height" not in record:
            return record["round"]
    return None


def _close(state, ctx: BlockContext, model: Model, reason: str) -> tuple[Event, ...]:
    """Refund the held deposits of the model's rounds, then its unspent bounty and its bond."""
    events = model_closed(state, ctx, model.id)
    model = registry.get_model(state, model.id)
    return events + (_closed_event(model, registry.close(state, model), reason),)


def _closed_event(model: Model, refund, reason: str) -> Event:
    return Event("close_model", (("model_id", str(model.id)), ("owner", to_bech32(model.owner_bytes)),
                                 ("refund", coins_text(refund)), ("reason", reason)))


def close_expired(state, ctx: BlockContext) -> tuple[Event, ...]:
    """Close expired models, by id, after the rounds module had its turn in this block (a round whose
    reveal deadline is the expiry height is voided or closed first). Writes nothing if nothing expires."""
    events: tuple[Event, ...] = ()
    for model_id in registry.expired_ids(state, ctx.height):
        events += _close(state, ctx, registry.get_model(state, model_id), "expired")
    return events
