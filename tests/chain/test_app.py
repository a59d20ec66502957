"""The state machine end to end, in process: ante order, per-tx branches, bad input, queries."""
import json

import pytest

from chain.auth.ante import FEE_COLLECTOR
from chain.bank import keeper as bank
from chain.genesis import export_genesis
from chain.store.kv import MemoryKV
from chainutil import ALICE, BOB, CAROL, CHAIN_ID, Chain, genesis, send_tx
from chain.app import Application


def bal(chain, wallet, denom="ugrad"):
    return bank.balance(chain.app.store, wallet.address_bytes, denom)


def test_transfer_moves_coins_and_charges_fee():
    chain = Chain()
    result = chain.block([send_tx(ALICE, CAROL, {"ugrad": 100, "stake": 7}, 0)])
    assert result.tx_results[0].code == 0, result.tx_results[0].log
    assert bal(chain, CAROL) == 100 and bal(chain, CAROL, "stake") == 7
    assert bal(chain, ALICE) == 1_000_000 - 100 - 2000
    assert bank.balance(chain.app.store, FEE_COLLECTOR, "ugrad") == 2000
    assert bank.supply(chain.app.store, "ugrad") == 1_000_300


def test_failed_message_keeps_fee_and_sequence_only():
    chain = Chain()
    before_stake = bal(chain, ALICE, "stake")
    # second coin is more stake than Alice has: the whole message fails, nothing of it moves
    result = chain.block([send_tx(ALICE, CAROL, {"ugrad": 5, "stake": 501}, 0)])
    r = result.tx_results[0]
    assert (r.codespace, r.code) == ("bank", 1) and "message 0" in r.log
    assert bal(chain, CAROL) == 0 and bal(chain, ALICE, "stake") == before_stake
    assert bal(chain, ALICE) == 1_000_000 - 2000  # fee paid
    # the sequence advanced: sequence 0 again is a replay
    r2 = chain.block([send_tx(ALICE, CAROL, {"ugrad": 5}, 0)]).tx_results[0]
    assert (r2.codespace, r2.code) == ("tx", 5)
    assert chain.block([send_tx(ALICE, CAROL, {"ugrad": 5}, 1)]).tx_results[0].code == 0


BAD_TXS = {
    "garbage": (lambda: b"\x00\x01garbage", ("tx", 1)),
    "empty": (lambda: b"", ("tx", 1)),
    "wrong chain id": (lambda: send_tx(ALICE, BOB, {"ugrad": 1}, 0, chain_id="other-1"), ("tx", 3)),
    "skipped sequence": (lambda: send_tx(ALICE, BOB, {"ugrad": 1}, 5), ("tx", 5)),
    "fee too low": (lambda: send_tx(ALICE, BOB, {"ugrad": 1}, 0, fee=1), ("tx", 6)),
    "cannot pay fee": (lambda: send_tx(BOB, ALICE, {"ugrad": 1}, 0, fee=301), ("tx", 12)),
    "invalid denom": (lambda: send_tx(ALICE, BOB, {"UP": 1}, 0), ("bank", 3)),
    "oversized": (lambda: send_tx(ALICE, BOB, {"ugrad": 1}, 0, memo="x" * 250, fee=10**6) + b"", None),
}


def _bad_signature():
    raw = bytearray(send_tx(ALICE, BOB, {"ugrad": 1}, 0))
    raw[-1] ^= 1
    return bytes(raw)


def _amount(text):
    from chain.bank.messages import MsgSend
    from chain.tx.coins import Coin
    from client.txbuilder import sign_tx
    return sign_tx(ALICE, CHAIN_ID, 0, [MsgSend(to_address=BOB.address_bytes, amount=(Coin("ugrad", text),))],
                   "ugrad", 2000)


BAD_TXS.update({
    "bad signature": (_bad_signature, ("tx", 4)),
    "zero amount": (lambda: _amount("0"), ("bank", 2)),
    "negative amount": (lambda: _amount("-5"), ("bank", 2)),
    "leading zero": (lambda: _amount("05"), ("bank", 2)),
    "overflowing amount": (lambda: _amount(str(2**256)), ("bank", 2)),
})
del BAD_TXS["oversized"]


@pytest.mark.parametrize("name", sorted(BAD_TXS))
def test_bad_tx_rejected_in_checktx_and_block_without_state_change(name):
    make, (codespace, code) = BAD_TXS[name]
    chain = Chain()
    raw = make()
    before = chain.app.info()[1]
    check = chain.app.check_tx(raw)
    assert (check.codespace, check.code) == (codespace, code), check.log
    assert check.log
    result = chain.block([raw])
    r = result.tx_results[0]
    assert (r.codespace, r.code) == (codespace, code), r.log
    assert chain.app.info()[1] == before  # nothing written: not even a fee


def test_message_failure_is_refused_by_mempool_but_charged_in_a_block():
    chain = Chain()
    raw = send_tx(ALICE, BOB, {"nosuch": 1}, 0)
    assert (chain.app.check_tx(raw).codespace, chain.app.check_tx(raw).code) == ("bank", 1)
    r = chain.block([raw]).tx_results[0]
    assert (r.codespace, r.code) == ("bank", 1)
    assert bal(chain, ALICE) == 1_000_000 - 2000 and bal(chain, BOB, "nosuch") == 0


def test_oversized_tx_rejected():
    chain = Chain()
    raw = send_tx(ALICE, BOB, {"ugrad": 1}, 0, memo="m" * 200) + b"\x00" * 5000
    r = chain.app.check_tx(raw)
    assert (r.codespace, r.code) == ("tx", 2)


def test_one_result_per_tx_in_order_mixed_good_and_bad():
    chain = Chain()
    txs = [send_tx(ALICE, BOB, {"ugrad": 1}, 0), b"junk", send_tx(ALICE, BOB, {"ugrad": 1}, 1),
           send_tx(ALICE, BOB, {"ugrad": 1}, 1)]
    codes = [r.code for r in chain.block(txs).tx_results]
    assert codes == [0, 1, 0, 5]


def test_checktx_tracks_pending_sequences_until_commit():
    chain = Chain()
    assert chain.app.check_tx(send_tx(ALICE, BOB, {"ugrad": 1}, 0)).code == 0
    assert chain.app.check_tx(send_tx(ALICE, BOB, {"ugrad": 1}, 1)).code == 0
    assert chain.app.check_tx(send_tx(ALICE, BOB, {"ugrad": 1}, 1)).code == 5
    chain.block([])  # nothing included: the mempool view resets to committed state
    assert chain.app.check_tx(send_tx(ALICE, BOB, {"ugrad": 1}, 0)).code == 0


def test_empty_block_keeps_app_hash():
    chain = Chain()
    first = chain.block([]).app_hash
    assert chain.block([]).app_hash == first


def test_restart_from_same_store_resumes():
    kv = MemoryKV()
    chain = Chain(kv)
    chain.block([send_tx(ALICE, BOB, {"ugrad": 10}, 0)])
    height, app_hash = chain.app.info()
    again = Chain(kv)
    assert again.app.info() == (height, app_hash)
    assert again.block([send_tx(ALICE, BOB, {"ugrad": 10}, 1)]).tx_results[0].code == 0


def test_genesis_export_import_roundtrip():
    chain = Chain()
    chain.block([send_tx(ALICE, CAROL, {"ugrad": 10, "stake": 3}, 0)])
    exported = export_genesis(chain.app.store)
    other = Application(MemoryKV())
    result = other.init_chain(CHAIN_ID, 1, json.dumps(exported).encode())
    assert result.app_hash == chain.app.info()[1]


@pytest.mark.parametrize("bad", [
    {"bank": {"balances": [{"address": "grad1nope", "coins": []}]}},
    {"bank": {"balances": [{"address": ALICE.address, "coins": [{"denom": "ugrad", "amount": "0"}]}]}},
    {"auth": {"params": {"fee_denom": "ugrad", "max_tx_bytes": -1}}},
    {"mystery": {}},
])
def test_invalid_genesis_is_refused_with_reason(bad):
    from chain.tx.errors import InvalidGenesis
    with pytest.raises(InvalidGenesis):
        Application(MemoryKV()).init_chain(CHAIN_ID, 1, json.dumps(genesis(**bad)).encode())


def test_queries():
    chain = Chain()
    chain.block([send_tx(ALICE, CAROL, {"ugrad": 10}, 0)])
    q = chain.app.query("/bank/balances", CAROL.address_bytes)
    assert json.loads(q.value)["balances"] == [{"denom": "ugrad", "amount": "10"}]
    q = chain.app.query("/auth/account", ALICE.address_bytes)
    assert json.loads(q.value)["sequence"] == 1
    q = chain.app.query("/bank/balance", CAROL.address_bytes + b"ugrad", prove=True)
    assert int.from_bytes(q.value, "big") == 10 and q.proof
    assert chain.app.query("/nope", b"").codespace == "query"
    assert chain.app.query("/bank/balances", b"short").code == 2
    assert chain.app.query("/bank/balances", CAROL.address_bytes, height=99).code == 3


def test_checktx_before_the_first_block_is_checked_against_genesis_not_a_crash():
    """A tx broadcast right after InitChain, before block 1 commits the genesis state, is checked against
    that state (it used to find no chain id and stop the node); block 1 then includes it."""
    import json
    from chain.app import Application
    from chain.store.kv import MemoryKV
    from chainutil import CHAIN_ID, genesis
    app = Application(MemoryKV())
    app.init_chain(CHAIN_ID, 1, json.dumps(genesis()).encode())
    tx = send_tx(ALICE, CAROL, {"ugrad": 5}, 0)
    assert app.check_tx(tx).code == 0
    assert app.check_tx(send_tx(ALICE, CAROL, {"ugrad": 5}, 0)).code != 0   # the same sequence again: refused
    from chain.results import BlockContext
    result = app.finalize_block(BlockContext(CHAIN_ID, 1, 1_700_000_001, 0, b"\x00" * 20), [tx])
    app.commit()
    assert result.tx_results[0].code == 0 and bank.balance(app.store, CAROL.address_bytes, "ugrad") == 5
