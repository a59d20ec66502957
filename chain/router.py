"""Message type -> handler. Handlers take (state, signer, msg) and return events."""
from __future__ import annotations

from chain.bank.handlers import process_send
from chain.errors import UnknownMessage
from chain.tx.messages import MsgSend

HANDLERS = {
    MsgSend: process_send,
}


def process_message(state, signer: bytes, msg):
    handler = HANDLERS.get(type(msg))
    if handler is None:
        raise UnknownMessage(f"no handler for {type(msg).__name__}")
    return handler(state, signer, msg)
