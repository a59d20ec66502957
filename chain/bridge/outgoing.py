"""Withdrawals, batches and valsets: everything that must be signed by validators and relayed.

A withdrawal escrows vouchers and waits in its token's queue. At the end of a block, every token with
queued withdrawals and no pending batch gets one batch (oldest first, up to max_batch_size), signed for
the newest valset. The escrowed vouchers are burnt when the contract's BatchExecuted event is
attested. A batch the contract can no longer accept (signed for a valset the contract has moved past,
or a lower nonce than an executed batch of the same token) is cancelled and its withdrawals queue again.
"""
from __future__ import annotations

from chain.bridge import keeper, keys
from chain.bridge.params import BridgeParams
from chain.bridge.errors import UnknownBridgeDenom, WithdrawalNotCancellable, WrongEvmChain
from chain.results import BlockContext, Event
from chain.store.kv import prefix_end
from chain.tx.address import to_bech32
from chain.bridge.messages import MsgCancelWithdraw, MsgWithdraw

QUEUED = b"\x01"


def process_withdraw(state, signer: bytes, params: BridgeParams, msg: MsgWithdraw) -> tuple[Event, ...]:
    if msg.evm_chain_id != params.evm_chain_id:
        raise WrongEvmChain(f"this bridge releases on EVM chain {params.evm_chain_id}, not {msg.evm_chain_id}")
    denom = keeper.voucher_denom(params.evm_chain_id, msg.token)
    if keeper.get_denom(state, denom) is None:
        raise UnknownBridgeDenom(f"no vouchers exist for token 0x{msg.token.hex()} (denom {denom})")
    amount = int(msg.amount)
    keeper.BANK.collect(state, signer, [(denom, amount)])
    record = keeper.load_state(state)
    withdrawal_id = record.last_withdrawal_id + 1
    keeper.store_state(state, keeper.BridgeState(**{**record.__dict__, "last_withdrawal_id": withdrawal_id}))
    keeper.put_withdrawal(state, {"id": withdrawal_id, "sender": signer.hex(), "token": "0x" + msg.token.hex(),
                                  "denom": denom, "amount": str(amount), "recipient": "0x" + msg.evm_recipient.hex(),
                                  "batch": 0})
    state.set(keys.queue_key(msg.token, withdrawal_id), QUEUED)
    return (Event("bridge_withdraw", (("id", str(withdrawal_id)), ("sender", to_bech32(signer)),
                                      ("amount", f"{amount}{denom}"), ("evm_recipient", "0x" + msg.evm_recipient.hex()))),)


def process_cancel_withdraw(state, signer: bytes, msg: MsgCancelWithdraw) -> tuple[Event, ...]:
    w = keeper.get_withdrawal(state, msg.withdrawal_id)
    if w is None or w["sender"] != signer.hex() or w["batch"] != 0:
        raise WithdrawalNotCancellable(f"withdrawal {msg.withdrawal_id} is not a queued withdrawal of yours "
                                       f"(batched withdrawals are released or re-queued by the bridge)")
    keeper.BANK.pay(state, signer, [(w["denom"], int(w["amount"]))])
    state.delete(keys.queue_key(bytes.fromhex(w["token"][2:]), w["id"]))
    state.delete(keys.withdrawal_key(w["id"]))
    return (Event("bridge_withdraw_cancelled", (("id", str(w["id"])), ("sender", to_bech32(signer)))),)


# --- reactions to attested contract events ---------------------------------------------------------
def on_valset_updated(state, valset_nonce: int) -> tuple[Event, ...]:
    record = keeper.load_state(state)
    events = (Event("bridge_valset_relayed", (("valset_nonce", str(valset_nonce)),)),)
    if valset_nonce <= record.contract_valset_nonce:
        return events
    keeper.store_state(state, keeper.BridgeState(**{**record.__dict__, "contract_valset_nonce": valset_nonce}))
    for batch in keeper.all_batches(state):
        if batch["valset_nonce"] < valset_nonce:  # the contract can never accept it now
            events += _cancel_batch(state, batch, "signed for a replaced valset")
    for old in keeper.all_valsets(state):
        if old["nonce"] > valset_nonce:
            break
        keeper.delete_confirms(state, keys.VALSET_CONFIRM, old["nonce"])
        if old["nonce"] < valset_nonce:  # the newest relayed set still signs its successor
            state.delete(keys.valset_key(old["nonce"]))
    return events


def on_batch_executed(state, token: bytes, batch_nonce: int) -> tuple[Event, ...]:
    batch = keeper.get_batch(state, batch_nonce)
    if batch is None or batch["token"] != "0x" + token.hex():
        return (Event("bridge_unknown_batch_executed", (("batch_nonce", str(batch_nonce)),
                                                        ("token", "0x" + token.hex()))),)
    released = 0
    for withdrawal_id in batch["withdrawals"]:
        w = keeper.get_withdrawal(state, withdrawal_id)
        keeper.BANK.burn(state, w["denom"], int(w["amount"]))
        state.delete(keys.withdrawal_key(withdrawal_id))
        released += int(w["amount"])
    _drop_batch(state, batch)
    events = (Event("bridge_batch_executed", (("batch_nonce", str(batch_nonce)), ("token", batch["token"]),
                                              ("withdrawals", str(len(batch["withdrawals"]))),
                                              ("burnt", str(released)))),)
    for other in keeper.all_batches(state):
        if other["token"] == batch["token"] and other["nonce"] < batch_nonce:
            events += _cancel_batch(state, other, "a later batch of the same token was executed")
    return events


def _drop_batch(state, batch: dict) -> None:
    keeper.delete_confirms(state, keys.BATCH_CONFIRM, batch["nonce"])
    state.delete(keys.batch_key(batch["nonce"]))
    token = bytes.fromhex(batch["token"][2:])
    if keeper.active_batch_nonce(state, token) == batch["nonce"]:
        state.delete(keys.active_batch_key(token))


def _cancel_batch(state, batch: dict, reason: str) -> tuple[Event, ...]:
    token = bytes.fromhex(batch["token"][2:])
    for withdrawal_id in batch["withdrawals"]:
        w = keeper.get_withdrawal(state, withdrawal_id)
        keeper.put_withdrawal(state, {**w, "batch": 0})
        state.set(keys.queue_key(token, withdrawal_id), QUEUED)
    _drop_batch(state, batch)
    return (Event("bridge_batch_cancelled", (("batch_nonce", str(batch["nonce"])), ("reason", reason))),)


# --- end of block ----------------------------------------------------------------------------------
def update_valset(state, height: int) -> tuple[Event, ...]:
    """Record a new valset when the EVM mirror of the validator set changed. The contract is deployed
    with valset 1, so the first valset counts as relayed."""
    members = keeper.current_members(state)
    record = keeper.load_state(state)
    latest = keeper.get_valset(state, record.last_valset_nonce) if record.last_valset_nonce else None
    if not members or (latest is not None and keeper.valset_members(latest) == members):
        return ()
    nonce = record.last_valset_nonce + 1
    keeper.put_valset(state, nonce, members, height)
    changes = {"last_valset_nonce": nonce}
    if nonce == 1:
        changes["contract_valset_nonce"] = 1
    keeper.store_state(state, keeper.BridgeState(**{**record.__dict__, **changes}))
    return (Event("bridge_valset", (("valset_nonce", str(nonce)), ("members", str(len(members))),
                                    ("total_power", str(sum(p for _, p in members))))),)


def form_batches(state, ctx: BlockContext, params: BridgeParams) -> tuple[Event, ...]:
    events: tuple[Event, ...] = ()
    start = keys.QUEUE
    while True:
        first = next(iter(state.iterate(start, prefix_end(keys.QUEUE))), None)
        if first is None:
            return events
        token = first[0][len(keys.QUEUE):len(keys.QUEUE) + 20]
        token_prefix = keys.QUEUE + token
        start = prefix_end(token_prefix)
        record = keeper.load_state(state)
        if keeper.active_batch_nonce(state, token) is not None or record.last_valset_nonce == 0:
            continue
        queued = []
        for key, _ in state.iterate(token_prefix, start):
            queued.append(int.from_bytes(key[len(token_prefix):], "big"))
            if len(queued) == params.max_batch_size:
                break
        nonce = record.last_batch_nonce + 1
        keeper.store_state(state, keeper.BridgeState(**{**record.__dict__, "last_batch_nonce": nonce}))
        for withdrawal_id in queued:
            state.delete(keys.queue_key(token, withdrawal_id))
            keeper.put_withdrawal(state, {**keeper.get_withdrawal(state, withdrawal_id), "batch": nonce})
        keeper.put_batch(state, {"nonce": nonce, "token": "0x" + token.hex(), "valset_nonce": record.last_valset_nonce,
                                 "withdrawals": queued, "height": ctx.height})
        events += (Event("bridge_batch", (("batch_nonce", str(nonce)), ("token", "0x" + token.hex()),
                                          ("withdrawals", str(len(queued))),
                                          ("valset_nonce", str(record.last_valset_nonce)))),)
