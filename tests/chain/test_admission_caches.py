"""Attacks on the admission caches (chain/app.py's decoded-tx cache, the Ed25519 good-key cache, the
auth-params memo): whatever CheckTx has seen, no verdict changes. A tx is trusted only for exactly the
bytes that were verified; a recheck re-runs the stateful ante checks; every cache stays bounded."""
from __future__ import annotations

import pytest

from chain import app as app_module
from chain.auth import params as auth_params
from chain.tx import ed25519
from chain.tx.envelope import Tx, tx_hash
from chainutil import ALICE, BOB, CAROL, Chain, genesis, send_tx

BAD_SIGNATURE = ("tx", 4)
WRONG_SEQUENCE = ("tx", 5)
CANNOT_PAY_FEE = ("tx", 12)
UNDECODABLE = ("tx", 1)


def verdict(result) -> tuple[str, int]:
    return (result.codespace, result.code)


def with_signature(raw: bytes, signature: bytes) -> bytes:
    return Tx(body=Tx.decode(raw).body, signature=signature).encode()


def flipped(raw: bytes) -> bytes:
    """The same body under a signature one bit off."""
    sig = bytearray(Tx.decode(raw).signature)
    sig[5] ^= 0x10
    return with_signature(raw, bytes(sig))


def malleated(raw: bytes) -> bytes:
    """The same body under (R, S + L): a second form of the signature that lax verifiers accept."""
    sig = Tx.decode(raw).signature
    s = int.from_bytes(sig[32:], "little") + ed25519.L
    return with_signature(raw, sig[:32] + s.to_bytes(32, "little"))


@pytest.mark.parametrize("twin", [flipped, malleated], ids=["flipped", "malleated"])
def test_a_bad_signature_twin_of_a_cached_tx_is_refused_in_checktx_and_in_a_block(twin):
    chain = Chain()
    good = send_tx(ALICE, BOB, {"ugrad": 5}, 0)
    assert chain.app.check_tx(good).code == 0      # verified and cached
    bad = twin(good)
    assert Tx.decode(bad).body == Tx.decode(good).body and bad != good
    assert verdict(chain.app.check_tx(bad)) == BAD_SIGNATURE
    assert verdict(chain.app.check_tx(bad, recheck=True)) == BAD_SIGNATURE
    before = chain.app.info()[1]
    r = chain.block([bad]).tx_results[0]
    assert verdict(r) == BAD_SIGNATURE
    assert chain.app.info()[1] == before           # not even a fee
    assert chain.block([good]).tx_results[0].code == 0   # the genuine tx still goes through


def test_a_block_tx_never_seen_by_checktx_is_verified():
    chain = Chain()
    bad = flipped(send_tx(ALICE, BOB, {"ugrad": 5}, 0))
    assert verdict(chain.block([bad]).tx_results[0]) == BAD_SIGNATURE


def test_a_refused_tx_is_not_remembered_as_good():
    chain = Chain()
    bad = flipped(send_tx(ALICE, BOB, {"ugrad": 5}, 0))
    for _ in range(3):
        assert verdict(chain.app.check_tx(bad)) == BAD_SIGNATURE
    assert tx_hash(bad) not in chain.app._decoded
    assert verdict(chain.block([bad]).tx_results[0]) == BAD_SIGNATURE


def test_a_non_canonical_form_of_a_cached_tx_is_refused():
    chain = Chain()
    good = send_tx(ALICE, BOB, {"ugrad": 5}, 0)
    assert chain.app.check_tx(good).code == 0
    tx = Tx.decode(good)
    # the same two fields in reverse order: a protobuf runtime would accept it, the chain does not
    reordered = good[len(good) - 66:] + good[:len(good) - 66]
    assert reordered[:2] == b"\x12\x40" and Tx.decode(good).signature == tx.signature
    assert verdict(chain.app.check_tx(reordered)) == UNDECODABLE
    assert verdict(chain.block([reordered]).tx_results[0]) == UNDECODABLE


def test_a_recheck_refuses_a_sequence_another_node_committed_first():
    chain = Chain()
    mine = send_tx(ALICE, BOB, {"ugrad": 5}, 0)
    assert chain.app.check_tx(mine).code == 0
    theirs = send_tx(ALICE, CAROL, {"ugrad": 7}, 0)   # same sequence, reached the proposer first
    assert chain.block([theirs]).tx_results[0].code == 0
    assert verdict(chain.app.check_tx(mine, recheck=True)) == WRONG_SEQUENCE
    assert verdict(chain.block([mine]).tx_results[0]) == WRONG_SEQUENCE


def test_a_recheck_refuses_a_fee_the_account_can_no_longer_pay():
    state = genesis()
    state["bank"]["balances"][1]["coins"][0]["amount"] = "1000"   # Bob
    chain = Chain(app_state=state)
    # tx 0 and tx 1 each pay a 400 fee: both fit Bob's 1000, in this order, in CheckTx
    first = send_tx(BOB, CAROL, {"ugrad": 1}, 0, fee=400)
    second = send_tx(BOB, CAROL, {"ugrad": 1}, 1, fee=400)
    assert chain.app.check_tx(first).code == 0 and chain.app.check_tx(second).code == 0
    # another of Bob's txs with sequence 0 commits first and leaves him 101
    drain = send_tx(BOB, CAROL, {"ugrad": 500}, 0, fee=399)
    assert chain.block([drain]).tx_results[0].code == 0
    assert verdict(chain.app.check_tx(first, recheck=True)) == WRONG_SEQUENCE
    assert verdict(chain.app.check_tx(second, recheck=True)) == CANNOT_PAY_FEE
    assert verdict(chain.block([second]).tx_results[0]) == CANNOT_PAY_FEE


def test_a_recheck_keeps_the_mempool_view_in_step():
    """Rechecked txs still build on one another: after the block, the leftover txs 1 and 2 pass recheck
    in order, and tx 3 is the next sequence CheckTx takes."""
    chain = Chain()
    txs = [send_tx(ALICE, BOB, {"ugrad": 1}, s) for s in range(4)]
    for raw in txs[:3]:
        assert chain.app.check_tx(raw).code == 0
    assert chain.block(txs[:1]).tx_results[0].code == 0
    assert [chain.app.check_tx(raw, recheck=True).code for raw in txs[1:3]] == [0, 0]
    assert chain.app.check_tx(txs[3]).code == 0
    assert verdict(chain.app.check_tx(txs[2])) == WRONG_SEQUENCE


def test_the_decoded_tx_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(app_module, "_DECODED_CACHE_SIZE", 4)
    chain = Chain()
    txs = [send_tx(ALICE, BOB, {"ugrad": 1}, s) for s in range(10)]
    for raw in txs:
        assert chain.app.check_tx(raw).code == 0
        assert len(chain.app._decoded) <= 4
    # evicted txs are simply verified again in their block
    assert [r.code for r in chain.block(txs).tx_results] == [0] * 10


def test_the_good_key_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(ed25519, "_GOOD_KEYS_MAX", 2)
    monkeypatch.setattr(ed25519, "_GOOD_KEYS", type(ed25519._GOOD_KEYS)())
    for wallet in (ALICE, BOB, CAROL):
        ed25519.check_public_key(wallet.public_key)
        assert len(ed25519._GOOD_KEYS) <= 2


def test_a_small_order_key_is_refused_whatever_the_cache_holds():
    ed25519.check_public_key(ALICE.public_key)
    identity = (1).to_bytes(32, "little")
    with pytest.raises(ed25519.InvalidPublicKey):
        ed25519.check_public_key(identity)
    assert identity not in ed25519._GOOD_KEYS


def test_new_auth_params_apply_at_once():
    """The params memo is keyed by the stored bytes: params written to state are the ones checked."""
    chain = Chain()
    raw = send_tx(ALICE, BOB, {"ugrad": 1}, 0, fee=300)
    assert chain.app.check_tx(raw).code == 0
    params = auth_params.load(chain.app.store)
    auth_params.store(chain.app._check, auth_params.AuthParams(
        params.fee_denom, min_fee_base=1000, min_fee_per_byte=1, max_tx_bytes=params.max_tx_bytes))
    again = send_tx(ALICE, BOB, {"ugrad": 1}, 1, fee=300)
    assert verdict(chain.app.check_tx(again)) == ("tx", 6)   # InsufficientFee under the new params
