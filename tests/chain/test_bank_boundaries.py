"""bank keeper and handler at their boundaries (issue 18: mutants that survived the older tests).

`-k boundary`: supply exactly at 2**256-1, a burn or send of the whole balance and of the whole balance
plus one. `-k error_path`: each refusal asserted by its code and message AND by an unchanged state (the
overlay holds no write). `-k conservation`: supply equals the sum of balances after every step.
"""
from __future__ import annotations

import pytest

from chain.bank import keeper as bank, keys
from chain.bank.errors import (InsufficientFunds, MissingPermission, ModuleAccountRecipient, ModuleAccountSender,
                               SupplyOverflow)
from chain.results import Event
from chain.store.state import Overlay
from chain.tx.address import module_address, to_bech32
from chain.tx.coins import MAX_AMOUNT
from chainutil import ALICE, BOB, CAROL, Chain, send_tx

VOUCHER = "bridge/0xabc"
BRIDGE = module_address("bridge_escrow")
REGISTRY = module_address("registry_escrow")


@pytest.fixture
def state():
    return Overlay(Chain().app.store)


def refused(state, error, code, fn, *args, match: str | None = None):
    """`fn(*args)` raises `error` with its code, optional exact message, and writes nothing."""
    before = state.changes()
    with pytest.raises(error) as info:
        fn(state, *args)
    assert (info.value.codespace, info.value.code) == ("bank", code)
    if match is not None:
        assert str(info.value) == match
    assert state.changes() == before, "a refused bank write left a change behind"
    return info.value


def total(state, denom: str, holders) -> int:
    return sum(bank.balance(state, h, denom) for h in holders)


# --- mint: the supply limit -------------------------------------------------------------------------
def test_bank_boundary_mint_exactly_to_supply_limit(state):
    bank.mint_coins(state, "bridge_escrow", VOUCHER, MAX_AMOUNT - 1)
    bank.mint_coins(state, "bridge_escrow", VOUCHER, 1, to=ALICE.address_bytes)   # exactly 2**256-1: allowed
    assert bank.supply(state, VOUCHER) == MAX_AMOUNT
    assert bank.balance(state, BRIDGE, VOUCHER) == MAX_AMOUNT - 1
    assert bank.balance(state, ALICE.address_bytes, VOUCHER) == 1


def test_bank_boundary_error_path_mint_one_past_supply_limit(state):
    bank.mint_coins(state, "bridge_escrow", VOUCHER, MAX_AMOUNT)
    refused(state, SupplyOverflow, 4, bank.mint_coins, "bridge_escrow", VOUCHER, 1,
            match=f"total supply of {VOUCHER} would exceed 2**256-1")
    assert bank.supply(state, VOUCHER) == MAX_AMOUNT and bank.balance(state, BRIDGE, VOUCHER) == MAX_AMOUNT


def test_bank_error_path_mint_past_limit_from_nothing(state):
    refused(state, SupplyOverflow, 4, bank.mint_coins, "bridge_escrow", VOUCHER, MAX_AMOUNT + 1)
    assert bank.supply(state, VOUCHER) == 0 and state.get(keys.supply_key(VOUCHER)) is None


def test_bank_boundary_mint_to_module_account_by_default(state):
    bank.mint_coins(state, "bridge_escrow", VOUCHER, 7)
    assert bank.balances(state, BRIDGE) == [(VOUCHER, 7)]
    assert bank.supply(state, VOUCHER) == 7


def test_bank_error_path_mint_without_permission(state):
    refused(state, MissingPermission, 9, bank.mint_coins, "registry_escrow", VOUCHER, 1,
            match=f"module account registry_escrow lacks the mint permission: cannot mint {VOUCHER}")
    refused(state, MissingPermission, 9, bank.mint_coins, "bridge_escrow", "ugrad", 1,
            match="module account bridge_escrow lacks the mint permission for denoms under 'bridge/': "
                  "cannot mint ugrad")


# --- burn: the whole balance and one more -------------------------------------------------------------
def test_bank_boundary_burn_whole_balance_leaves_no_keys(state):
    bank.mint_coins(state, "bridge_escrow", VOUCHER, 10)
    bank.burn_coins(state, "bridge_escrow", VOUCHER, 10)
    assert state.get(keys.supply_key(VOUCHER)) is None, "a supply of zero is not stored"
    assert state.get(keys.balance_key(BRIDGE, VOUCHER)) is None, "a zero balance is not stored"
    assert all(d != VOUCHER for d, _ in bank.all_supply(state))


def test_bank_boundary_burn_part_keeps_remaining_supply(state):
    bank.mint_coins(state, "bridge_escrow", VOUCHER, 10)
    bank.mint_coins(state, "bridge_escrow", VOUCHER, 5, to=ALICE.address_bytes)
    bank.burn_coins(state, "bridge_escrow", VOUCHER, 10)
    assert bank.supply(state, VOUCHER) == 5 and bank.balance(state, BRIDGE, VOUCHER) == 0


def test_bank_boundary_error_path_burn_whole_balance_plus_one(state):
    bank.mint_coins(state, "bridge_escrow", VOUCHER, 10)
    bank.mint_coins(state, "bridge_escrow", VOUCHER, 5, to=ALICE.address_bytes)   # supply covers it, balance not
    refused(state, InsufficientFunds, 1, bank.burn_coins, "bridge_escrow", VOUCHER, 11,
            match=f"cannot burn 11{VOUCHER}: holder has 10")
    assert bank.supply(state, VOUCHER) == 15 and bank.balance(state, BRIDGE, VOUCHER) == 10


def test_bank_error_path_burn_without_permission(state):
    refused(state, MissingPermission, 9, bank.burn_coins, "rounds_escrow", "ugrad", 1,
            match="module account rounds_escrow lacks the burn permission: cannot burn ugrad")


# --- send: the whole balance and one more -------------------------------------------------------------
def test_bank_boundary_send_whole_balance(state):
    bank.send_coins(state, BOB.address_bytes, CAROL.address_bytes, [("ugrad", 300)])
    assert state.get(keys.balance_key(BOB.address_bytes, "ugrad")) is None
    assert bank.balance(state, CAROL.address_bytes, "ugrad") == 300


def test_bank_boundary_error_path_send_whole_balance_plus_one(state):
    refused(state, InsufficientFunds, 1, bank.send_coins, BOB.address_bytes, CAROL.address_bytes,
            [("ugrad", 301)], match="insufficient ugrad: have 300, need 301")
    bank.validate_send(state, BOB.address_bytes, [("ugrad", 300)])       # exactly the balance: fine


def test_bank_error_path_send_from_module_account(state):
    bank.mint_coins(state, "bridge_escrow", VOUCHER, 3)
    refused(state, ModuleAccountSender, 10, bank.send_coins, BRIDGE, ALICE.address_bytes, [(VOUCHER, 1)],
            match="coins leave module account bridge_escrow only through its own capability")
    refused(state, ModuleAccountSender, 10, bank.send_coins_from_account_to_module, BRIDGE, "rounds_escrow",
            [(VOUCHER, 1)])


def test_bank_error_path_send_to_module_account(state):
    refused(state, ModuleAccountRecipient, 8, bank.send_coins, ALICE.address_bytes, REGISTRY, [("ugrad", 1)],
            match=f"a plain send to a module account is refused: {to_bech32(REGISTRY)} is registry_escrow")
    refused(state, ModuleAccountRecipient, 8, bank.mint_coins, "bridge_escrow", VOUCHER, 1, REGISTRY)


def test_bank_conservation_mint_send_burn(state):
    holders = [ALICE.address_bytes, BOB.address_bytes, CAROL.address_bytes, BRIDGE]
    bank.mint_coins(state, "bridge_escrow", VOUCHER, 100)
    bank.send_coins_from_module(state, "bridge_escrow", ALICE.address_bytes, [(VOUCHER, 40)])
    bank.send_coins(state, ALICE.address_bytes, BOB.address_bytes, [(VOUCHER, 15)])
    assert total(state, VOUCHER, holders) == bank.supply(state, VOUCHER) == 100
    bank.send_coins_from_account_to_module(state, BOB.address_bytes, "bridge_escrow", [(VOUCHER, 15)])
    bank.burn_coins(state, "bridge_escrow", VOUCHER, 75)
    assert total(state, VOUCHER, holders) == bank.supply(state, VOUCHER) == 25


# --- the MsgSend handler's event ----------------------------------------------------------------------
def test_bank_send_event_exact():
    chain = Chain()
    result = chain.block([send_tx(ALICE, BOB, {"ugrad": 5, "stake": 2}, 0)]).tx_results[0]
    assert result.code == 0, result.log
    transfer = [e for e in result.events if e.type == "transfer" and ("sender", ALICE.address) in e.attributes]
    assert Event("transfer", (("sender", ALICE.address), ("recipient", BOB.address),
                              ("amount", "2stake,5ugrad"))) in transfer, result.events


# --- property: random bank operations conserve supply per denom ---------------------------------------
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

HOLDERS = [ALICE.address_bytes, BOB.address_bytes, CAROL.address_bytes, BRIDGE]
OPS = st.lists(st.tuples(st.sampled_from(["send", "mint", "burn", "to_module", "from_module"]),
                         st.integers(0, 2), st.integers(0, 2), st.sampled_from(["ugrad", "stake", VOUCHER]),
                         st.integers(0, 400)), max_size=25)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_conservation_random_bank_operations(state, ops):
    """Whatever sequence of sends, mints and burns runs (each refused one writing nothing), every denom's
    supply is the sum of its balances, no balance is negative and no zero balance is stored."""
    state = Overlay(state)                        # each example on a fresh branch of the same genesis
    denoms = ("ugrad", "stake", VOUCHER)
    start = {d: bank.supply(state, d) for d in denoms}
    minted = {d: 0 for d in denoms}
    for op, i, j, denom, amount in ops:
        src, dst = HOLDERS[i], HOLDERS[j]
        branch = state.branch()
        try:
            if op == "send":
                bank.send_coins(branch, src, dst, [(denom, amount)])
            elif op == "mint":
                bank.mint_coins(branch, "bridge_escrow", denom, amount, to=None if i == 0 else src)
            elif op == "burn":
                bank.burn_coins(branch, "bridge_escrow", denom, amount)
            elif op == "to_module":
                bank.send_coins_from_account_to_module(branch, src, "bridge_escrow", [(denom, amount)])
            else:
                bank.send_coins_from_module(branch, "bridge_escrow", dst, [(denom, amount)])
        except (InsufficientFunds, MissingPermission, ModuleAccountRecipient, ModuleAccountSender):
            assert branch.changes() == {}, f"refused {op} wrote {branch.changes()}"
            continue
        if op == "mint":
            minted[denom] += amount
        elif op == "burn":
            minted[denom] -= amount
        branch.write_to_parent()
    everyone = HOLDERS + [module_address(n) for n in ("fee_collector", "bonded_pool", "community_pool")]
    for d in denoms:
        assert bank.supply(state, d) == start[d] + minted[d]
        assert sum(bank.balance(state, h, d) for h in everyone) == bank.supply(state, d)
    for k, v in state.iterate(keys.BALANCE, None):
        if not k.startswith(keys.BALANCE):
            break
        assert bank.decode_uint(v) > 0
