"""The chain side of the bridge, in process: who may claim, > 2/3 attestation, nonce order, conflicting
and replayed claims, EVM address registration, confirmations, withdrawals, genesis round trip."""
import json

import pytest

from bridgeutil import ALICE, BOB, EVM_KEYS, OPERATORS, BridgeNet, balance
from chain.app import Application
from chain.bridge import evm
from chain.bridge.keeper import ESCROW
from chain.genesis import export_genesis
from chain.store.kv import MemoryKV
from chainutil import CHAIN_ID, Chain, genesis
from chain.bridge.messages import (MsgCancelWithdraw, MsgConfirmBatch, MsgDepositClaim, MsgSetEvmAddress,
                                   MsgWithdraw)
from chain.bridge.messages import (MsgCancelWithdraw, MsgConfirmBatch, MsgDepositClaim, MsgSetEvmAddress,
                                   MsgWithdraw)
from relayer.evm import EvmKey

TOKEN = b"\xaa" * 20
SENDER = b"\xbb" * 20


@pytest.fixture(scope="module")
def base():
    """One EVM + contract deployment shared by the module; each test gets a fresh chain from its genesis."""
    return BridgeNet()


@pytest.fixture
def net(base):
    base.chain = Chain(app_state=json.loads(json.dumps(base._genesis)))
    base.pending, base.pending_by, base.allow_failures, base.check_evm = [], {}, True, False
    return base


def claim(net, nonce, amount="100", to=ALICE, token=TOKEN, chain_id=None, height=10):
    return MsgDepositClaim(evm_chain_id=chain_id or net.evm_chain_id, event_nonce=nonce, evm_height=height,
                           token=token, sender=SENDER, destination=to.address_bytes, amount=amount, decimals=6)


def codes(result):
    return [(r.codespace, r.code) for r in result.tx_results]


def send(net, wallet, *messages):
    """One block with one tx per message, in order; returns the result codes."""
    return codes(net.block([net.sign_each(wallet, m) for m in messages]))


def vouchers(net, who=ALICE, token=TOKEN):
    return balance(net, who, f"bridge/{net.evm_chain_id}/0x{token.hex()}")


def test_only_active_validators_claim_and_only_for_this_evm_chain(net):
    assert send(net, ALICE, claim(net, 1)) == [("bridge", 3)]
    assert send(net, OPERATORS[0], claim(net, 1, chain_id=1)) == [("bridge", 2)]
    assert send(net, OPERATORS[5], claim(net, 1)) == [("bridge", 3)]  # has funds, is no validator
    assert vouchers(net) == 0


def test_minority_attestation_mints_nothing_until_two_thirds(net):
    assert codes(net.block([net.claim_tx(i, claim(net, 1)) for i in (0, 1)])) == [("", 0)] * 2
    assert vouchers(net) == 0 and net.query("/bridge/state")["last_event_nonce"] == 0
    for _ in range(3):  # waiting changes nothing, and empty blocks keep the app hash
        before = net.chain.app.info()[1]
        net.block()
        assert net.chain.app.info()[1] == before
    assert codes(net.block([net.claim_tx(2, claim(net, 1))])) == [("", 0)]
    assert vouchers(net) == 100
    assert codes(net.block([net.claim_tx(3, claim(net, 1))])) == [("bridge", 7)]  # late: already attested
    assert vouchers(net) == 100


def test_conflicting_and_duplicate_claims(net):
    assert codes(net.block([net.claim_tx(0, claim(net, 1)), net.claim_tx(0, claim(net, 1)),
                            net.claim_tx(0, claim(net, 1, amount="999"))])) == [("", 0), ("bridge", 9), ("bridge", 10)]
    # a 2-2 split never reaches 2/3: nothing is minted, to anyone
    net.block([net.claim_tx(1, claim(net, 1)), net.claim_tx(2, claim(net, 1, amount="999")),
               net.claim_tx(3, claim(net, 1, amount="999"))])
    assert vouchers(net) == 0 and net.query("/bridge/state")["last_event_nonce"] == 0
    votes = net.query("/bridge/votes")["votes"]
    assert len(votes) == 4 and len({v["claim_hash"] for v in votes}) == 2


def test_claims_apply_strictly_in_nonce_order_and_replays_fail(net):
    # nonce 2 reaches 2/3 first: it waits for nonce 1
    net.block([net.claim_tx(i, claim(net, 2, amount="20", to=BOB)) for i in range(3)])
    assert vouchers(net, BOB) == 0 and net.query("/bridge/state")["last_event_nonce"] == 0
    result = net.block([net.claim_tx(i, claim(net, 1, amount="10")) for i in range(3)])
    assert vouchers(net) == 10 and vouchers(net, BOB) == 20
    attested = [dict(e.attributes)["event_nonce"] for r in result.tx_results for e in r.events if e.type == "bridge_attested"]
    assert attested == ["1", "2"]
    assert codes(net.block([net.claim_tx(3, claim(net, 1, amount="10")), net.claim_tx(3, claim(net, 2, amount="20", to=BOB))])) \
        == [("bridge", 7)] * 2
    lookahead = net.query("/bridge/params")["max_claim_lookahead"]
    assert codes(net.block([net.claim_tx(0, claim(net, 3 + lookahead))])) == [("bridge", 8)]
    assert vouchers(net) == 10 and vouchers(net, BOB) == 20


def test_votes_count_with_current_power(net):
    from chain.validators.messages import MsgUnbond
    net.block([net.claim_tx(i, claim(net, 1)) for i in (0, 1)])
    net.block([net.claim_tx(3, MsgUnbond())])  # 30 power left: the two votes hold exactly 2/3, not more
    assert vouchers(net) == 0
    net.block([net.claim_tx(2, MsgUnbond())])  # 20 left: attested at the end of that block
    assert vouchers(net) == 100
    # the validator that left can no longer claim
    assert codes(net.block([net.claim_tx(3, claim(net, 2))])) == [("bridge", 3)]
    assert net.query("/bridge/valsets")["valsets"][-1]["members"] == [
        ["0x" + a.hex(), 10] for a in sorted(k.address for k in EVM_KEYS[:2])]  # the EVM mirror follows


def test_evm_address_registration(net):
    key = EvmKey(b"\x66" * 32)
    operator = OPERATORS[0]

    def proof(k, op=operator):
        return k.sign(evm.address_proof_digest(CHAIN_ID, op.address_bytes, key.address))

    assert send(net, operator, MsgSetEvmAddress(evm_address=key.address, signature=proof(key))) == [("bridge", 4)]
    assert send(net, ALICE, MsgSetEvmAddress(evm_address=key.address, signature=proof(key, ALICE))) == [("bridge", 3)]
    fresh = Chain(app_state=_genesis_without_evm(net))  # validators without EVM addresses
    net.chain = fresh
    wrong = EvmKey(b"\x67" * 32)
    assert send(net, operator, MsgSetEvmAddress(evm_address=key.address, signature=proof(wrong))) == [("bridge", 6)]
    assert send(net, operator, MsgSetEvmAddress(evm_address=key.address, signature=proof(key))) == [("", 0)]
    assert net.query("/bridge/valsets")["valsets"][0]["members"] == [["0x" + key.address.hex(), 10]]
    other = OPERATORS[1]
    taken = key.sign(evm.address_proof_digest(CHAIN_ID, other.address_bytes, key.address))
    assert send(net, other, MsgSetEvmAddress(evm_address=key.address, signature=taken)) == [("bridge", 5)]


def _genesis_without_evm(net):
    g = json.loads(json.dumps(net._genesis))
    g["bridge"]["evm_addresses"] = []
    return g


def _deposit_and_withdraw(net, amount="100"):
    net.block([net.claim_tx(i, claim(net, 1, token=net.token_bytes)) for i in range(3)])
    msg = MsgWithdraw(evm_chain_id=net.evm_chain_id, token=net.token_bytes, amount=amount, evm_recipient=b"\x55" * 20)
    return net.block([net.sign_each(ALICE, msg)])


def test_withdraw_escrows_batches_and_confirms_verify_evm_signatures(net):
    _deposit_and_withdraw(net, "60")
    assert vouchers(net, token=net.token_bytes) == 40
    assert balance(net, type("W", (), {"address_bytes": ESCROW})(), net.denom()) == 60
    batch = net.query("/bridge/batches")["batches"][0]
    assert batch["transfers"] == [["0x" + "55" * 20, "60"]] and batch["valset_nonce"] == 1
    digest = bytes.fromhex(batch["digest"][2:])
    evm_of = {OPERATORS[i].address: EVM_KEYS[i] for i in range(4)}
    forged = EvmKey(b"\x68" * 32).sign(digest)
    other_digest = EVM_KEYS[0].sign(b"\x01" * 32)
    high_s = _high_s(EVM_KEYS[0].sign(digest))
    results = send(net, OPERATORS[0], MsgConfirmBatch(batch_nonce=1, signature=forged),
                   MsgConfirmBatch(batch_nonce=1, signature=other_digest),
                   MsgConfirmBatch(batch_nonce=1, signature=high_s),
                   MsgConfirmBatch(batch_nonce=1, signature=evm_of[OPERATORS[0].address].sign(digest)),
                   MsgConfirmBatch(batch_nonce=1, signature=evm_of[OPERATORS[0].address].sign(digest)),
                   MsgConfirmBatch(batch_nonce=9, signature=forged))
    assert results == [("bridge", 6), ("bridge", 6), ("bridge", 6), ("", 0), ("bridge", 16), ("bridge", 12)]
    assert send(net, OPERATORS[5], MsgConfirmBatch(batch_nonce=1, signature=forged)) == [("bridge", 14)]
    assert [c["operator"] for c in net.query("/bridge/batches")["batches"][0]["confirms"]] == [OPERATORS[0].address]


def _high_s(signature):
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    s = int.from_bytes(signature[32:64], "big")
    return signature[:32] + (n - s).to_bytes(32, "big") + bytes([55 - signature[64]])


def test_withdraw_unknown_denom_and_cancel(net):
    msg = MsgWithdraw(evm_chain_id=net.evm_chain_id, token=b"\x99" * 20, amount="1", evm_recipient=b"\x55" * 20)
    assert send(net, ALICE, msg) == [("bridge", 11)]
    net.block([net.claim_tx(i, claim(net, 1, token=net.token_bytes)) for i in range(3)])
    withdraw = MsgWithdraw(evm_chain_id=net.evm_chain_id, token=net.token_bytes, amount="30", evm_recipient=b"\x55" * 20)
    # cancelled in the block that queued it, before the end of block puts it into a batch
    assert send(net, ALICE, withdraw, MsgCancelWithdraw(withdrawal_id=1)) == [("", 0), ("", 0)]
    assert vouchers(net, token=net.token_bytes) == 100 and net.query("/bridge/withdrawals")["withdrawals"] == []
    assert send(net, ALICE, withdraw) == [("", 0)]  # batched at the end of its block: no longer cancellable
    assert send(net, ALICE, MsgCancelWithdraw(withdrawal_id=2)) == [("bridge", 17)]
    assert send(net, BOB, MsgCancelWithdraw(withdrawal_id=2)) == [("bridge", 17)]


def test_genesis_round_trip_with_pending_bridge_state(net):
    _deposit_and_withdraw(net)
    net.block([net.claim_tx(0, claim(net, 2)), net.claim_tx(1, claim(net, 3))])  # pending votes
    digest = bytes.fromhex(net.query("/bridge/batches")["batches"][0]["digest"][2:])
    net.block([net.claim_tx(0, MsgConfirmBatch(batch_nonce=1, signature=EVM_KEYS[0].sign(digest)))])
    exported = export_genesis(net.chain.app.store)
    assert exported["bridge"]["votes"] and exported["bridge"]["batch_confirms"] and exported["bridge"]["withdrawals"]
    other = Application(MemoryKV())
    assert other.init_chain(CHAIN_ID, 1, json.dumps(exported).encode()).app_hash == net.chain.app.info()[1]


def test_chain_without_bridge_refuses_bridge_messages():
    chain = Chain(app_state=genesis())
    from client.txbuilder import sign_tx
    raw = sign_tx(ALICE, CHAIN_ID, 0, [MsgCancelWithdraw(withdrawal_id=1)], "ugrad", 5000)
    assert codes(chain.block([raw])) == [("bridge", 1)]
    assert "bridge" not in export_genesis(chain.app.store)
