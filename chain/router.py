"""Message type -> handler. Handlers take (state, block context, signer, msg) and return events."""
from __future__ import annotations

from chain.bank.handlers import process_send
from chain.errors import UnknownMessage
from chain.results import BlockContext
from chain.tx.messages import MsgCreateValidator, MsgSend, MsgUnbond
from chain.validators.handlers import process_create_validator, process_unbond

HANDLERS = {
    MsgSend: process_send,
    MsgCreateValidator: process_create_validator,
    MsgUnbond: process_unbond,
}


def process_message(state, ctx: BlockContext, signer: bytes, msg):
    handler = HANDLERS.get(type(msg))
    if handler is None:
        raise UnknownMessage(f"no handler for {type(msg).__name__}")
    return handler(state, ctx, signer, msg)
