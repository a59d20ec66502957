"""Claims and attestations: contract events take effect strictly in event-nonce order, each once
validators holding more than 2/3 of the current voting power claimed the same content for it.

A validator votes once per nonce. Claims for later nonces wait (up to max_claim_lookahead ahead);
votes count with the voter's power when the nonce's turn comes, so a validator that left counts zero.
"""
from __future__ import annotations

from chain.bridge import keeper, keys, outgoing
from chain.bridge.keeper import BATCH_EXECUTED, DEPOSIT, VALSET_UPDATED
from chain.bridge.params import BridgeParams
from chain.bridge.errors import (ConflictingClaim, DuplicateClaim, NonceAlreadyObserved, NonceTooFarAhead,
                                 NotBridgeValidator, WrongEvmChain)
from chain.tx.errors import ChainError
from chain.results import BlockContext, Event
from chain.tx.address import to_bech32
from chain.bridge.messages import MsgBatchExecutedClaim, MsgDepositClaim, MsgValsetUpdatedClaim

CLAIM_TYPES = {DEPOSIT: MsgDepositClaim, VALSET_UPDATED: MsgValsetUpdatedClaim, BATCH_EXECUTED: MsgBatchExecutedClaim}
KIND_OF = {cls: kind for kind, cls in CLAIM_TYPES.items()}


def encode_claim(msg) -> bytes:
    return bytes([KIND_OF[type(msg)]]) + msg.encode()


def decode_claim(raw: bytes):
    return CLAIM_TYPES[raw[0]].decode(raw[1:])


def validate_claim(state, params: BridgeParams, signer: bytes, msg) -> bytes:
    """Reads only. Returns the claim's hash."""
    if msg.evm_chain_id != params.evm_chain_id:
        raise WrongEvmChain(f"this bridge watches EVM chain {params.evm_chain_id}, not {msg.evm_chain_id}")
    if keeper.power_of(state, signer) == 0:
        raise NotBridgeValidator("only active validators' operators may claim bridge events")
    last = keeper.load_state(state).last_event_nonce
    if msg.event_nonce <= last:
        raise NonceAlreadyObserved(f"event nonce {msg.event_nonce} is already attested (last attested: {last})")
    if msg.event_nonce > last + params.max_claim_lookahead:
        raise NonceTooFarAhead(f"event nonce {msg.event_nonce} is more than {params.max_claim_lookahead} "
                               f"ahead of the next expected nonce {last + 1}")
    digest = keeper.claim_hash(encode_claim(msg))
    previous = state.get(keys.vote_key(msg.event_nonce, signer))
    if previous == digest:
        raise DuplicateClaim(f"this validator already made this claim for event nonce {msg.event_nonce}")
    if previous is not None:
        raise ConflictingClaim(f"this validator already claimed different content for event nonce {msg.event_nonce}")
    return digest


def process_claim(state, ctx: BlockContext, signer: bytes, params: BridgeParams, msg) -> tuple[Event, ...]:
    digest = validate_claim(state, params, signer, msg)
    state.set(keys.vote_key(msg.event_nonce, signer), digest)
    state.set(keys.claim_key(msg.event_nonce, digest), encode_claim(msg))
    vote = Event("bridge_claim", (("validator", to_bech32(signer)), ("event_nonce", str(msg.event_nonce)),
                                  ("claim_hash", digest.hex())))
    return (vote,) + observe_ready(state, ctx, params)


def observe_ready(state, ctx: BlockContext, params: BridgeParams) -> tuple[Event, ...]:
    """Attest every nonce, in order from the next expected one, whose claim now has > 2/3 of the power."""
    events: tuple[Event, ...] = ()
    total = keeper.total_power(state)
    while total > 0:
        record = keeper.load_state(state)
        nonce = record.last_event_nonce + 1
        tally: dict[bytes, int] = {}
        for operator, digest in keeper.votes(state, nonce):
            tally[digest] = tally.get(digest, 0) + keeper.power_of(state, operator)
        winners = sorted(d for d, power in tally.items() if 3 * power > 2 * total)
        if not winners:  # each validator votes once, so at most one claim can pass 2/3
            break
        msg = decode_claim(keeper.get_claim(state, nonce, winners[0]))
        keeper.forget_nonce(state, nonce)
        keeper.store_state(state, keeper.BridgeState(**{**record.__dict__, "last_event_nonce": nonce,
                                                        "last_evm_height": max(record.last_evm_height, msg.evm_height)}))
        events += (Event("bridge_attested", (("event_nonce", str(nonce)), ("claim_hash", winners[0].hex()),
                                             ("power", str(tally[winners[0]])), ("total_power", str(total)))),)
        events += _apply_isolated(state, ctx, params, msg)
    return events


def _apply_isolated(state, ctx: BlockContext, params: BridgeParams, msg) -> tuple[Event, ...]:
    """An attested event that cannot take effect (e.g. a supply overflow) still consumes its nonce."""
    branch = state.branch()
    try:
        events = _apply(branch, ctx, params, msg)
    except ChainError as e:
        return (Event("bridge_claim_failed", (("event_nonce", str(msg.event_nonce)), ("error", str(e)))),)
    branch.write_to_parent()
    return events


def _apply(state, ctx: BlockContext, params: BridgeParams, msg) -> tuple[Event, ...]:
    if isinstance(msg, MsgDepositClaim):
        denom = keeper.voucher_denom(params.evm_chain_id, msg.token)
        if keeper.get_denom(state, denom) is None:
            keeper.put_denom(state, denom, params.evm_chain_id, msg.token, msg.decimals)
        keeper.BANK.mint(state, msg.destination, denom, int(msg.amount))
        return (Event("bridge_deposit", (("event_nonce", str(msg.event_nonce)), ("recipient", to_bech32(msg.destination)),
                                         ("amount", f"{msg.amount}{denom}"), ("evm_sender", "0x" + msg.sender.hex()))),)
    if isinstance(msg, MsgValsetUpdatedClaim):
        return outgoing.on_valset_updated(state, msg.valset_nonce)
    return outgoing.on_batch_executed(state, msg.token, msg.batch_nonce)
