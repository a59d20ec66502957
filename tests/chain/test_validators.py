"""Joining, leaving, slashing, and the validator updates CometBFT receives."""
import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from chain.app import Application
from chain.bank import keeper as bank
from chain.genesis import export_genesis
from chain.results import BlockContext, Misbehavior
from chain.store.kv import MemoryKV
from chain.tx.coins import Coin
from chain.validators.messages import MsgCreateValidator, MsgUnbond
from chain.validators import keeper
from chain.validators.keeper import BONDED_POOL, COMMUNITY_POOL
from chainutil import (ALICE, BOB, BOND, C1, C2, C3, CHAIN_ID, ENC, V1, V2, VALIDATOR_PARAMS, Chain,
                       validator_genesis)
from client.txbuilder import sign_tx

PARAMS, vgenesis = VALIDATOR_PARAMS, validator_genesis


def tx(wallet, seq, msg):
    return sign_tx(wallet, CHAIN_ID, seq, [msg], "ugrad", 5000)


def codes(result):
    return [(r.codespace, r.code) for r in result.tx_results]


def test_genesis_validators_returned_by_init_chain():
    app = Application(MemoryKV())
    init = app.init_chain(CHAIN_ID, 1, json.dumps(vgenesis()).encode())
    assert sorted((v.ed25519_public_key, v.power) for v in init.validators) == sorted([(C1, 10), (C2, 10)])


def test_join_then_leave_with_unbonding_period():
    chain = Chain(app_state=vgenesis())
    join = chain.block([tx(ALICE, 0, MsgCreateValidator(consensus_pubkey=C3, encryption_pubkey=ENC,
                                                        bond=Coin.of("ugrad", 5_000_000)))])
    assert codes(join) == [("", 0)]
    assert [(u.ed25519_public_key, u.power) for u in join.validator_updates] == [(C3, 5)]
    assert chain.block([]).validator_updates == ()  # reported once, then forgotten
    leave = chain.block([tx(ALICE, 1, MsgUnbond())])
    assert [(u.ed25519_public_key, u.power) for u in leave.validator_updates] == [(C3, 0)]
    leave_height = chain.height
    balance_after_leave = bank.balance(chain.app.store, ALICE.address_bytes, "ugrad")
    while chain.height < leave_height + PARAMS["unbonding_blocks"] - 1:
        chain.block([])
        assert bank.balance(chain.app.store, ALICE.address_bytes, "ugrad") == balance_after_leave
    chain.block([])
    assert bank.balance(chain.app.store, ALICE.address_bytes, "ugrad") == balance_after_leave + 5_000_000


@pytest.mark.parametrize("msg, expected", [
    (MsgCreateValidator(consensus_pubkey=C1, encryption_pubkey=ENC, bond=Coin.of("ugrad", 5_000_000)),
     ("validators", 1)),  # consensus key taken
    (MsgCreateValidator(consensus_pubkey=C3, encryption_pubkey=ENC, bond=Coin.of("ugrad", 999)),
     ("validators", 3)),
    (MsgCreateValidator(consensus_pubkey=C3, encryption_pubkey=ENC, bond=Coin.of("stake", 5_000_000)),
     ("validators", 4)),
    (MsgUnbond(), ("validators", 2)),
])
def test_bad_validator_messages(msg, expected):
    chain = Chain(app_state=vgenesis())
    result = chain.block([tx(ALICE, 0, msg)])
    assert codes(result) == [expected] and result.validator_updates == ()


# Every 32-byte encoding of a low-order X25519 point (libsodium's blocklist): u = 0, 1, p-1 and the two
# order-8 points, u = p and p+1 (non-canonical 0 and 1), and all seven again with the ignored top bit set.
# X25519 with any of them yields an all-zero shared secret (docs/sealing.md 14.8).
P25519 = 2**255 - 19
LOW_ORDER_US = (0, 1, P25519 - 1,
                325606250916557431795983626356110631294008115727848805560023387167927233504,
                39382357235489614581723060781553021112529911719440698176882885853963445705823,
                P25519, P25519 + 1)
LOW_ORDER_KEYS = tuple(u.to_bytes(32, "little") for u in LOW_ORDER_US) + \
    tuple((u + 2**255).to_bytes(32, "little") for u in LOW_ORDER_US)


def _validator_state(chain):
    store = chain.app.store
    return ([(v.operator, v.encryption_pubkey, v.bond, v.status) for v in keeper.all_validators(store)],
            bank.balance(store, ALICE.address_bytes, "ugrad"), bank.balance(store, BONDED_POOL, "ugrad"))


@pytest.mark.parametrize("key", LOW_ORDER_KEYS, ids=lambda k: k.hex())
def test_low_order_encryption_key_refused(key):
    chain = Chain(app_state=vgenesis())
    validators, balance, pool = _validator_state(chain)
    result = chain.block([tx(ALICE, 0, MsgCreateValidator(consensus_pubkey=C3, encryption_pubkey=key,
                                                          bond=Coin.of("ugrad", 5_000_000)))])
    assert codes(result) == [("validators", 7)] and result.validator_updates == ()
    assert "low-order" in result.tx_results[0].log
    assert keeper.get(chain.app.store, ALICE.address_bytes) is None
    assert _validator_state(chain) == (validators, balance - 5000, pool)  # only the fee is gone


def test_usable_encryption_key_accepted():
    key = X25519PrivateKey.from_private_bytes(b"\x42" * 32).public_key().public_bytes_raw()
    chain = Chain(app_state=vgenesis())
    result = chain.block([tx(ALICE, 0, MsgCreateValidator(consensus_pubkey=C3, encryption_pubkey=key,
                                                          bond=Coin.of("ugrad", 5_000_000)))])
    assert codes(result) == [("", 0)]
    assert keeper.get(chain.app.store, ALICE.address_bytes).encryption_pubkey == key.hex()


@pytest.mark.parametrize("key", LOW_ORDER_KEYS, ids=lambda k: k.hex())
def test_low_order_encryption_key_refused_at_genesis(key):
    from chain.tx.errors import InvalidGenesis
    g = vgenesis()
    g["validators"]["validators"][1]["encryption_pubkey"] = base64.b64encode(key).decode()
    with pytest.raises(InvalidGenesis, match=f"validator {V2.address}: encryption_pubkey is a low-order"):
        Application(MemoryKV()).init_chain(CHAIN_ID, 1, json.dumps(g).encode())


def test_failed_join_leaves_no_update_and_no_bond():
    chain = Chain(app_state=vgenesis())
    # Bob cannot afford the bond: the message fails, so its pending power update is rolled back too
    result = chain.block([sign_tx(BOB, CHAIN_ID, 0, [MsgCreateValidator(
        consensus_pubkey=C3, encryption_pubkey=ENC, bond=Coin.of("ugrad", 1_000_000))], "ugrad", 295)])
    assert codes(result) == [("bank", 1)] and result.validator_updates == ()
    assert keeper.get(chain.app.store, BOB.address_bytes) is None


def test_last_validator_cannot_leave():
    chain = Chain(app_state=vgenesis())
    assert codes(chain.block([tx(V1, 0, MsgUnbond())])) == [("", 0)]
    assert codes(chain.block([tx(V2, 0, MsgUnbond())])) == [("validators", 5)]


def _evidence_block(chain, address, height_offset=0):
    chain.height += 1
    ctx = BlockContext(CHAIN_ID, chain.height, 1_800_000_000, 0, b"\x00" * 20,
                       misbehavior=(Misbehavior("duplicate_vote", address, chain.height - 1),) * 2)
    result = chain.app.finalize_block(ctx, [])
    chain.app.commit()
    return result


def test_double_sign_slashes_and_removes_once():
    chain = Chain(app_state=vgenesis())
    supply = bank.supply(chain.app.store, "ugrad")
    result = _evidence_block(chain, keeper.consensus_address(C1))
    assert [(u.ed25519_public_key, u.power) for u in result.validator_updates] == [(C1, 0)]
    slashed = BOND * 500 // 10_000
    assert bank.balance(chain.app.store, COMMUNITY_POOL, "ugrad") == slashed
    assert keeper.get(chain.app.store, V1.address_bytes).status == "tombstoned"
    assert bank.supply(chain.app.store, "ugrad") == supply  # moved, not burnt
    assert [e.type for e in result.events].count("slash") == 1  # duplicate evidence counted once
    # unknown addresses are ignored; the remaining bond returns after the unbonding period
    _evidence_block(chain, b"\x99" * 20)
    for _ in range(PARAMS["unbonding_blocks"]):
        chain.block([])
    assert bank.balance(chain.app.store, V1.address_bytes, "ugrad") == 100_000 + BOND - slashed
    from chain.invariants import check_all
    assert check_all(chain.app.store) == []


def test_genesis_roundtrip_with_validators_and_unbonding():
    chain = Chain(app_state=vgenesis())
    chain.block([tx(V1, 0, MsgUnbond())])
    exported = export_genesis(chain.app.store)
    other = Application(MemoryKV())
    assert other.init_chain(CHAIN_ID, 1, json.dumps(exported).encode()).app_hash == chain.app.info()[1]


def test_bonded_pool_must_match_bonds_at_genesis():
    from chain.tx.errors import InvalidGenesis
    g = vgenesis()
    g["validators"]["validators"][0]["bond"] = str(BOND + 1)
    with pytest.raises(InvalidGenesis, match="bonded pool"):
        Application(MemoryKV()).init_chain(CHAIN_ID, 1, json.dumps(g).encode())


def test_boundary_bond_exactly_min_self_bond_accepted_one_below_refused():
    chain = Chain(app_state=vgenesis())
    before = _validator_state(chain)
    low = chain.block([tx(ALICE, 0, MsgCreateValidator(consensus_pubkey=C3, encryption_pubkey=ENC,
                                                       bond=Coin.of("ugrad", PARAMS["min_self_bond"] - 1)))])
    assert codes(low) == [("validators", 3)] and low.validator_updates == ()
    assert _validator_state(chain) == (before[0], before[1] - 5000, before[2])  # only the fee is gone
    ok = chain.block([tx(ALICE, 1, MsgCreateValidator(consensus_pubkey=C3, encryption_pubkey=ENC,
                                                      bond=Coin.of("ugrad", PARAMS["min_self_bond"])))])
    assert codes(ok) == [("", 0)]
    assert [(u.ed25519_public_key, u.power) for u in ok.validator_updates] == [(C3, 1)]
    assert bank.balance(chain.app.store, BONDED_POOL, "ugrad") == before[2] + PARAMS["min_self_bond"]

