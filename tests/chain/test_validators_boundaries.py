"""validators keeper and handlers at their boundaries (issue 18: mutants that survived the older tests).

`-k boundary`: the create_validator bounds (min_self_bond against power_reduction, max_validators counting
only active validators), an unbond that leaves exactly one unit of power, slashing (several pieces of
evidence in one block, an unbonding validator's queued release), releases at exactly their height,
genesis unbonding entries (zero, one, two at the same height) and every event with its attributes.
`-k error_path`: each refusal asserted by its code and message AND by an unchanged state (the overlay holds
no write).

Handlers are called directly on an Overlay over a committed genesis chain, so a test sees their exact
events and writes.
"""
from __future__ import annotations

import hashlib
import json

import pytest

from chain.app import Application
from chain.bank import keeper as bank
from chain.genesis import export_genesis
from chain.results import BlockContext, Event, Misbehavior, ValidatorUpdate
from chain.store.kv import MemoryKV
from chain.store.state import Overlay
from chain.tx.address import to_bech32
from chain.tx.coins import Coin
from chain.tx.errors import InvalidGenesis
from chain.validators import handlers, keeper
from chain.validators.errors import (BondTooSmall, InvalidEncryptionKey, LastValidator, TooManyValidators,
                                     UnknownValidator, ValidatorExists, WrongBondDenom)
from chain.validators.keeper import BONDED_POOL, COMMUNITY_POOL
from chain.validators.messages import MsgCreateValidator, MsgUnbond
from chain.validators.params import ValidatorParams
from chainutil import (ALICE, BOND, C1, C2, C3, CAROL, CHAIN_ID, ENC, V1, V2, VALIDATOR_PARAMS, Chain,
                       validator_genesis)

UNBONDING_BLOCKS = VALIDATOR_PARAMS["unbonding_blocks"]
SLASHED = BOND * VALIDATOR_PARAMS["slash_fraction_bps"] // 10_000   # 500_000


def overlay(**genesis_kwargs) -> Overlay:
    """A write buffer over a committed chain started from validator_genesis(**genesis_kwargs)."""
    return Overlay(Chain(app_state=validator_genesis(**genesis_kwargs)).app.store)


def ctx(height: int = 10, misbehavior: tuple[Misbehavior, ...] = ()) -> BlockContext:
    return BlockContext(CHAIN_ID, height, 1_700_000_000 + height, 0, b"\x00" * 20, misbehavior=misbehavior)


def create(consensus=C3, amount=5_000_000, denom="ugrad", encryption=ENC) -> MsgCreateValidator:
    return MsgCreateValidator(consensus_pubkey=consensus, encryption_pubkey=encryption,
                              bond=Coin.of(denom, amount))


def refused(state, error, code: int, message: str, fn, *args):
    """`fn(state, *args)` raises `error` with its code and exact message, and writes nothing."""
    before = state.changes()
    with pytest.raises(error) as info:
        fn(state, *args)
    assert (info.value.codespace, info.value.code) == ("validators", code)
    assert str(info.value) == message
    assert state.changes() == before, "a refused validators message left a change behind"


def evidence(pubkey: bytes, height: int = 9, kind: str = "duplicate_vote") -> Misbehavior:
    return Misbehavior(kind, hashlib.sha256(pubkey).digest()[:20], height)  # CometBFT's address, computed here


def queued(state) -> list[tuple[int, str, int]]:
    """(release height, operator bech32, amount) of every queued release, as genesis exports them."""
    return [(e["release_height"], e["operator"], int(e["amount"])) for e in export_genesis(state)["validators"]["unbonding"]]


def pending(state) -> list[tuple[bytes, int]]:
    return keeper.take_pending_updates(Overlay(state))   # read without consuming


# --- create_validator: refusals ---------------------------------------------------------------------
def test_validators_error_path_create_refusals_exact_code_message_no_write():
    state = overlay(max_validators=3)
    refused(state, InvalidEncryptionKey, 7,
            "encryption_pubkey is a low-order X25519 point: its shared secrets are all zeros",
            handlers.process_create_validator, ctx(), ALICE.address_bytes, create(encryption=b"\x00" * 32))
    refused(state, WrongBondDenom, 4, "bond must be in ugrad, not stake",
            handlers.process_create_validator, ctx(), ALICE.address_bytes, create(denom="stake"))
    refused(state, BondTooSmall, 3, "bond 999999 below the minimum 1000000ugrad",
            handlers.process_create_validator, ctx(), ALICE.address_bytes, create(amount=999_999))
    refused(state, ValidatorExists, 1, "this account already operates a validator; use a new account",
            handlers.process_create_validator, ctx(), V1.address_bytes, create())
    refused(state, ValidatorExists, 1, "that consensus key is already registered",
            handlers.process_create_validator, ctx(), ALICE.address_bytes, create(consensus=C2))
    assert state.changes() == {}


def test_validators_boundary_min_self_bond_above_power_reduction():
    """min_self_bond 2 000 000 > power_reduction: a bond giving power 1 is still refused below the minimum."""
    state = overlay(min_self_bond=2_000_000)
    refused(state, BondTooSmall, 3, "bond 1999999 below the minimum 2000000ugrad",
            handlers.process_create_validator, ctx(), ALICE.address_bytes, create(amount=1_999_999))
    events = handlers.process_create_validator(state, ctx(), ALICE.address_bytes, create(amount=2_000_000))
    assert events == (Event("create_validator", (("operator", ALICE.address), ("bond", "2000000ugrad"),
                                                 ("power", "2"))),)
    assert keeper.get(state, ALICE.address_bytes) == keeper.Validator(
        ALICE.address_bytes.hex(), C3.hex(), ENC.hex(), 2_000_000, "active")
    assert pending(state) == [(C3, 2)]


def test_validators_boundary_power_reduction_above_min_self_bond():
    """min_self_bond 1 < power_reduction: a bond at the minimum but worth zero power is refused; the message
    names the larger of the two as the real minimum."""
    state = overlay(min_self_bond=1)
    refused(state, BondTooSmall, 3, "bond 999999 below the minimum 1000000ugrad",
            handlers.process_create_validator, ctx(), ALICE.address_bytes, create(amount=999_999))
    events = handlers.process_create_validator(state, ctx(), ALICE.address_bytes, create(amount=1_000_000))
    assert events == (Event("create_validator", (("operator", ALICE.address), ("bond", "1000000ugrad"),
                                                 ("power", "1"))),)
    assert bank.balance(state, BONDED_POOL, "ugrad") == 2 * BOND + 1_000_000


def test_validators_boundary_max_validators_counts_only_active():
    state = overlay(max_validators=3)
    bank.send_coins(state, ALICE.address_bytes, CAROL.address_bytes, [("ugrad", 5_000_000)])
    handlers.process_create_validator(state, ctx(), ALICE.address_bytes, create())   # the third: exactly full
    refused(state, TooManyValidators, 6, "the validator set is full (3)",
            handlers.process_create_validator, ctx(), CAROL.address_bytes, create(consensus=b"\x33" * 32))
    assert bank.balance(state, CAROL.address_bytes, "ugrad") == 5_000_000
    handlers.process_unbond(state, ctx(), V1.address_bytes, MsgUnbond())   # an unbonding one frees its seat
    handlers.process_create_validator(state, ctx(), CAROL.address_bytes, create(consensus=b"\x33" * 32))
    assert [v.status for v in keeper.all_validators(state)].count("active") == 3
    assert bank.balance(state, CAROL.address_bytes, "ugrad") == 0


# --- unbond ------------------------------------------------------------------------------------------
def test_validators_error_path_unbond_refusals_exact_code_message_no_write():
    state = overlay(bonds=(BOND, 1_000_000))
    refused(state, UnknownValidator, 2, "this account operates no active validator",
            handlers.process_unbond, ctx(), ALICE.address_bytes, MsgUnbond())
    handlers.process_unbond(state, ctx(), V1.address_bytes, MsgUnbond())
    refused(state, UnknownValidator, 2, "this account operates no active validator",   # already leaving
            handlers.process_unbond, ctx(), V1.address_bytes, MsgUnbond())
    refused(state, LastValidator, 5, "the last validator cannot leave: the chain would stop",
            handlers.process_unbond, ctx(), V2.address_bytes, MsgUnbond())


def test_validators_boundary_unbond_leaving_exactly_one_power_and_its_event():
    """V2 has power 1: V1 may leave (one unit of power remains); the event names amount and release height."""
    state = overlay(bonds=(BOND, 1_000_000))
    events = handlers.process_unbond(state, ctx(height=10), V1.address_bytes, MsgUnbond())
    assert events == (Event("unbond", (("operator", V1.address), ("amount", f"{BOND}ugrad"),
                                       ("release_height", str(10 + UNBONDING_BLOCKS)))),)
    assert keeper.get(state, V1.address_bytes).status == "unbonding"
    assert keeper.get(state, V1.address_bytes).bond == BOND
    assert pending(state) == [(C1, 0)]
    assert queued(state) == [(10 + UNBONDING_BLOCKS, V1.address, BOND)]
    assert keeper.total_power(state, ValidatorParams(**VALIDATOR_PARAMS)) == 1


# --- end_block: releases -----------------------------------------------------------------------------
def test_validators_boundary_release_exactly_at_release_height_with_event():
    state = overlay()
    handlers.process_unbond(state, ctx(height=10), V1.address_bytes, MsgUnbond())
    keeper.take_pending_updates(state)
    balance = bank.balance(state, V1.address_bytes, "ugrad")
    assert handlers.end_block(state, ctx(height=10 + UNBONDING_BLOCKS - 1)) == ((), ())
    assert bank.balance(state, V1.address_bytes, "ugrad") == balance
    updates, events = handlers.end_block(state, ctx(height=10 + UNBONDING_BLOCKS))
    assert updates == ()
    assert events == (Event("unbonding_complete", (("operator", V1.address), ("amount", f"{BOND}ugrad"))),)
    assert bank.balance(state, V1.address_bytes, "ugrad") == balance + BOND
    assert bank.balance(state, BONDED_POOL, "ugrad") == BOND
    assert queued(state) == []
    assert handlers.end_block(state, ctx(height=10 + UNBONDING_BLOCKS + 1)) == ((), ())   # paid once


def test_validators_boundary_end_block_reports_each_power_change_once():
    state = overlay()
    handlers.process_create_validator(state, ctx(), ALICE.address_bytes, create(amount=5_000_000))
    updates, events = handlers.end_block(state, ctx())
    assert updates == (ValidatorUpdate(C3, 5),) and events == ()
    assert handlers.end_block(state, ctx(height=11)) == ((), ())


# --- begin_block: slashing ---------------------------------------------------------------------------
def test_validators_boundary_slash_event_record_and_release():
    state = overlay()
    events = handlers.begin_block(state, ctx(height=10, misbehavior=(evidence(C1, height=7),)))
    assert events == (Event("slash", (("operator", V1.address), ("reason", "duplicate_vote"),
                                      ("amount", f"{SLASHED}ugrad"), ("infraction_height", "7"))),)
    assert keeper.get(state, V1.address_bytes) == keeper.Validator(
        V1.address_bytes.hex(), C1.hex(), ENC.hex(), BOND - SLASHED, "tombstoned")
    assert queued(state) == [(10 + UNBONDING_BLOCKS, V1.address, BOND - SLASHED)]
    assert bank.balance(state, COMMUNITY_POOL, "ugrad") == SLASHED
    assert pending(state) == [(C1, 0)]


def test_validators_boundary_slash_every_piece_of_evidence_in_a_block():
    """Unknown and already tombstoned addresses are skipped, not the end of the list; each validator is
    slashed once and every slash has its event."""
    state = overlay()
    misbehavior = (Misbehavior("duplicate_vote", b"\x99" * 20, 9), evidence(C1, height=8), evidence(C1, height=9),
                   evidence(C2, height=9, kind="light_client_attack"))
    events = handlers.begin_block(state, ctx(height=10, misbehavior=misbehavior))
    assert events == (
        Event("slash", (("operator", V1.address), ("reason", "duplicate_vote"), ("amount", f"{SLASHED}ugrad"),
                        ("infraction_height", "8"))),
        Event("slash", (("operator", V2.address), ("reason", "light_client_attack"),
                        ("amount", f"{SLASHED}ugrad"), ("infraction_height", "9"))))
    assert [(v.bond, v.status) for v in keeper.all_validators(state)] == [(BOND - SLASHED, "tombstoned")] * 2
    assert bank.balance(state, COMMUNITY_POOL, "ugrad") == 2 * SLASHED
    before = state.changes()
    assert handlers.begin_block(state, ctx(height=11, misbehavior=(evidence(C1),))) == ()   # tombstoned: once
    assert state.changes() == before


def test_validators_boundary_slash_while_unbonding_cuts_the_queued_release():
    state = overlay()
    handlers.process_unbond(state, ctx(height=10), V1.address_bytes, MsgUnbond())
    keeper.take_pending_updates(state)
    balance = bank.balance(state, V1.address_bytes, "ugrad")
    events = handlers.begin_block(state, ctx(height=11, misbehavior=(evidence(C1, height=9),)))
    assert events == (Event("slash", (("operator", V1.address), ("reason", "duplicate_vote"),
                                      ("amount", f"{SLASHED}ugrad"), ("infraction_height", "9"))),)
    assert queued(state) == [(10 + UNBONDING_BLOCKS, V1.address, BOND - SLASHED)]   # cut, not queued again
    assert keeper.get(state, V1.address_bytes).status == "tombstoned"
    assert pending(state) == []            # its power was already 0: no second update
    _, released = handlers.end_block(state, ctx(height=10 + UNBONDING_BLOCKS))
    assert released == (Event("unbonding_complete", (("operator", V1.address),
                                                     ("amount", f"{BOND - SLASHED}ugrad"))),)
    assert bank.balance(state, V1.address_bytes, "ugrad") == balance + BOND - SLASHED
    assert bank.balance(state, BONDED_POOL, "ugrad") == BOND


def test_validators_boundary_slash_whole_bond_queues_no_release():
    """slash_fraction_bps 10000 takes everything: no zero-amount release is queued or paid."""
    state = overlay(slash_fraction_bps=10_000)
    handlers.begin_block(state, ctx(height=10, misbehavior=(evidence(C1),)))
    assert queued(state) == []
    assert keeper.get(state, V1.address_bytes).bond == 0
    assert handlers.end_block(state, ctx(height=10 + UNBONDING_BLOCKS))[1] == ()


def test_validators_boundary_slash_leaving_one_unit_queues_it():
    """9999 bps of 10000 leaves exactly 1: that one unit is queued and paid back."""
    state = overlay(bonds=(10_000, BOND), power_reduction=1, min_self_bond=1, slash_fraction_bps=9_999)
    balance = bank.balance(state, V1.address_bytes, "ugrad")
    handlers.begin_block(state, ctx(height=10, misbehavior=(evidence(C1),)))
    assert queued(state) == [(10 + UNBONDING_BLOCKS, V1.address, 1)]
    _, events = handlers.end_block(state, ctx(height=10 + UNBONDING_BLOCKS))
    assert events == (Event("unbonding_complete", (("operator", V1.address), ("amount", "1ugrad"))),)
    assert bank.balance(state, V1.address_bytes, "ugrad") == balance + 1


def test_validators_boundary_consensus_address_is_cometbft_sha256_first_20_bytes():
    state = overlay()
    address = hashlib.sha256(C2).digest()[:20]
    assert keeper.consensus_address(C2) == address
    assert keeper.by_consensus_address(state, address).operator == V2.address_bytes.hex()


# --- genesis: queued releases and withholding counts next to the validator records --------------------
def pool_balance(g: dict) -> dict:
    return next(b for b in g["bank"]["balances"] if b["address"] == to_bech32(BONDED_POOL))["coins"][0]


def _genesis_with_unbonding(unbonding: list[tuple[int, int]]) -> dict:
    """V1 active; V2 unbonding, its queued releases `unbonding` [(height, amount)]; the pool holds them."""
    g = validator_genesis()
    g["validators"]["validators"][1]["status"] = "unbonding"
    g["validators"]["unbonding"] = [{"release_height": h, "operator": V2.address, "amount": str(a)}
                                    for h, a in unbonding]
    pool_balance(g)["amount"] = str(BOND + sum(a for _, a in unbonding))
    return g


def test_validators_boundary_genesis_unbonding_zero_one_and_same_height_entries():
    """A zero release is no entry; a release of 1 is kept; two at the same height add up to one entry."""
    g = _genesis_with_unbonding([(50, 1), (60, 4), (60, 5), (70, 0)])
    chain = Chain(app_state=g)
    assert queued(chain.app.store) == [(50, V2.address, 1), (60, V2.address, 9)]
    state = Overlay(chain.app.store)
    balance = bank.balance(state, V2.address_bytes, "ugrad")
    assert handlers.end_block(state, ctx(height=50))[1] == (
        Event("unbonding_complete", (("operator", V2.address), ("amount", "1ugrad"))),)
    assert handlers.end_block(state, ctx(height=60))[1] == (
        Event("unbonding_complete", (("operator", V2.address), ("amount", "9ugrad"))),)
    assert bank.balance(state, V2.address_bytes, "ugrad") == balance + 10
    assert handlers.end_block(state, ctx(height=70)) == ((), ())


def test_validators_boundary_error_path_genesis_pool_must_hold_every_queued_release():
    g = _genesis_with_unbonding([(60, 4), (60, 5)])
    pool_balance(g)["amount"] = str(BOND + 5)
    with pytest.raises(InvalidGenesis, match="holds 10000005ugrad but bonds and releases add up to 10000009"):
        Application(MemoryKV()).init_chain(CHAIN_ID, 1, json.dumps(g).encode())


def test_validators_boundary_withholding_counts_are_not_validator_records():
    """val/w/ (withholding counts) sorts right after val/v/: listing validators stops at its prefix end."""
    g = validator_genesis()
    g["validators"]["withholdings"] = [{"operator": V1.address, "count": 2}]
    state = Chain(app_state=g).app.store
    assert [v.operator for v in keeper.all_validators(state)] == sorted([V1.address_bytes.hex(),
                                                                         V2.address_bytes.hex()])
    assert keeper.total_power(state, ValidatorParams(**VALIDATOR_PARAMS)) == 20
    assert export_genesis(state)["validators"]["withholdings"] == [{"operator": V1.address, "count": 2}]
