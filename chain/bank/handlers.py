"""bank message handlers: thin, check then apply."""
from __future__ import annotations

from chain.bank import keeper
from chain.results import Event
from chain.tx.address import to_bech32
from chain.tx.coins import validate_coins
from chain.bank.messages import MsgSend


def process_send(state, ctx, signer: bytes, msg: MsgSend) -> tuple[Event, ...]:
    coins = validate_coins(msg.amount)
    keeper.send_coins(state, signer, msg.to_address, coins)  # refuses module accounts (bank/8)
    amount = ",".join(f"{a}{d}" for d, a in coins)
    return (Event("transfer", (("sender", to_bech32(signer)), ("recipient", to_bech32(msg.to_address)),
                               ("amount", amount))),)
