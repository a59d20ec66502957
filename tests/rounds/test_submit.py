"""MsgSubmitUpdate in process: the window, the parent, the sealing context and set, size, cap, deposit;
exact codes and nothing stored on failure; queries, genesis round-trip. Invariants (the rounds escrow
included) are checked after every block by the Chain driver."""
import json

import pytest

from roundsutil import OPERATORS, PREPAY, ROUNDS, RoundsChain, private_key_of_index, rounds_snapshot, sealed, submit_msg

from chain.app import Application
from chain.bank import keeper as bank
from chain.bank.errors import InsufficientFunds
from chain.registry.errors import ModelNotActive, UnknownModel
from chain.rounds.errors import DuplicateSubmission, RoundFull, RoundNotOpen, StaleParent, UnknownParent
from chain.sealing.errors import ContextMismatch, EnvelopeTooLarge, ValidatorSetMismatch
from chain.genesis import export_genesis
from chain.registry import keeper as registry
from chain.results import BlockContext
from chain.rounds import handlers, keeper
from chain.sealing.envelope import decode_envelope, envelope_hash, seal_context
from chain.sealing.open import decrypt_share, open_sealed
from chain.store.kv import MemoryKV
from chain.store.state import Overlay
from chain.tx.coins import Coin
from chain.tx.address import from_bech32
from chainutil import ALICE, BOB, CAROL, CHAIN_ID
from client.trainer import Trainer, sealing_set
from registryutil import activate, code, err, in_process_client, register_msg, registered_id, tiny_model_and_shards, u64

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def setup():
    return tiny_model_and_shards()


def fresh(setup, rounds=None, **overrides):
    model, shards = setup
    chain = RoundsChain(rounds)
    model_id = activate(chain, model, shards, **overrides)
    return chain, model_id


def test_submit_in_window_escrows_the_deposit_and_snapshots_the_set(setup):
    chain, model_id = fresh(setup)
    start = chain.model(model_id)["first_round_start"]
    assert chain.height + 1 == start
    info = chain.query_json("/rounds/round", u64(model_id, 0))
    assert not info["snapshotted"] and info["threshold"] == 30 and info["total_shares"] == 40
    assert [m["power"] for m in info["sealing_set"]] == [10, 10, 10, 10]
    operators = [from_bech32(m["operator"]) for m in info["sealing_set"]]
    assert operators == sorted(operators) == sorted(op.address_bytes for op in OPERATORS)
    assert [m["index"] for m in info["sealing_set"]] == [0, 1, 2, 3]
    bob_before = bank.balance(chain.app.store, BOB.address_bytes, "ugrad")
    msg = submit_msg(chain, BOB, model_id, 0, b"bob's update")
    result, _ = chain.run(BOB, msg)
    assert code(result) == ("", 0), result.log
    assert [e.type for e in result.events][-1] == "submit_update"
    assert bank.balances(chain.app.store, keeper.ESCROW) == [("ugrad", 100 + PREPAY)]
    fee = bob_before - bank.balance(chain.app.store, BOB.address_bytes, "ugrad") - 100 - PREPAY
    assert fee > 0

    info = chain.query_json("/rounds/round", u64(model_id, 0))
    assert info["snapshotted"] and info["created_height"] == start and info["submissions"] == 1
    [sub] = info["submission_list"]
    digest = envelope_hash(decode_envelope(msg.envelope)).hex()
    assert sub == {"seq": 0, "submitter": BOB.address, "parent": 0, "envelope_hash": digest,
                   "envelope_size": len(msg.envelope), "deposit_denom": "ugrad", "deposit": "100",
                   "status": "sealed", "height": start, "scoring_fee": str(PREPAY), "scoring_fee_denom": "ugrad"}
    assert chain.query_json("/rounds/submission", u64(model_id, 0, 0))["envelope_hash"] == digest
    assert chain.query("/rounds/submission", u64(model_id, 0, 1)).code == 6  # UnknownSubmission
    proven = chain.query("/rounds/envelope", u64(model_id, 0, 0), prove=True)
    assert proven.value == msg.envelope and proven.proof

    # the stored envelope opens with the validators' shares for BOB's context, and only for it
    envelope = decode_envelope(chain.query("/rounds/envelope", u64(model_id, 0, 0)).value)
    released = {i: decrypt_share(private_key_of_index(chain, i), envelope, i) for i in range(3)}
    assert open_sealed(envelope, released, seal_context(CHAIN_ID, model_id, 0, BOB.address_bytes)) == b"bob's update"

    # a second trainer in the same round, and the last block of the window
    chain.until(start + 3)
    result, _ = chain.run(CAROL, submit_msg(chain, CAROL, model_id, 0, b"carol"))
    assert code(result) == ("", 0) and chain.height == start + 4
    assert chain.query_json("/rounds/round", u64(model_id, 0))["submissions"] == 2
    assert bank.balances(chain.app.store, keeper.ESCROW) == [("ugrad", 200 + 2 * PREPAY)]


def test_failures_have_exact_codes_and_store_nothing(setup):
    model, shards = setup
    chain, model_id = fresh(setup, round_blocks=20)
    start = chain.model(model_id)["first_round_start"]

    def fails(wallet, msg, expected):
        before = rounds_snapshot(chain)
        result, _ = chain.run(wallet, msg)
        assert code(result) == expected, result.log
        assert rounds_snapshot(chain) == before

    # a model still uploading; an unknown model
    result, block = chain.run(ALICE, register_msg(model, shards))
    uploading = registered_id(block)
    fails(BOB, _with(submit_msg(chain, BOB, model_id, 0), model_id=uploading), err(ModelNotActive))
    fails(BOB, _with(submit_msg(chain, BOB, model_id, 0), model_id=99), err(UnknownModel))
    # before the window: round 1 opens at start + 20
    fails(BOB, submit_msg(chain, BOB, model_id, 1), err(RoundNotOpen))
    # unknown parent
    fails(BOB, submit_msg(chain, BOB, model_id, 0, parent=1), err(UnknownParent))
    # a copied envelope: sealed for ALICE's context, submitted by BOB
    fails(BOB, submit_msg(chain, BOB, model_id, 0, context_signer=ALICE.address_bytes), err(ContextMismatch))
    # sealed to another set (one validator's power differs)
    info = chain.query_json("/rounds/round", u64(model_id, 0))
    other = [(i, pk, p + (i == 0)) for i, pk, p in sealing_set(info)]
    fails(BOB, submit_msg(chain, BOB, model_id, 0, validators=other), err(ValidatorSetMismatch))
    # oversize: the payload bound is ROUNDS["max_payload_bytes"]
    fails(BOB, submit_msg(chain, BOB, model_id, 0, b"\x00" * (ROUNDS["max_payload_bytes"] + 1)),
          err(EnvelopeTooLarge))
    # after the window
    assert chain.height < start + 19
    chain.until(start + 18)
    late = submit_msg(chain, BOB, model_id, 0)
    chain.block([])
    assert chain.height == start + 19
    fails(BOB, late, err(RoundNotOpen))
    assert chain.query_json("/rounds/round", u64(model_id, 0))["submissions"] == 0


def _with(msg, **changes):
    from dataclasses import replace
    return replace(msg, **changes)


def test_insufficient_deposit(setup):
    chain, model_id = fresh(setup, deposit=Coin.of("ugrad", 50_000_000))  # BOB holds 10**7
    before = rounds_snapshot(chain)
    result, _ = chain.run(BOB, submit_msg(chain, BOB, model_id, 0))
    assert code(result) == err(InsufficientFunds)
    assert rounds_snapshot(chain) == before
    result, _ = chain.run(ALICE, submit_msg(chain, ALICE, model_id, 0))
    assert code(result) == ("", 0), result.log
    assert bank.balances(chain.app.store, keeper.ESCROW) == [("ugrad", 50_000_000 + PREPAY)]


def test_round_cap_and_duplicates(setup):
    chain, model_id = fresh(setup, rounds={"max_submissions_per_round": 2})
    first = submit_msg(chain, BOB, model_id, 0, b"one")
    assert code(chain.run(BOB, first)[0]) == ("", 0)
    result, _ = chain.run(BOB, first)  # the same envelope again (a new tx)
    assert code(result) == err(DuplicateSubmission)
    assert code(chain.run(BOB, submit_msg(chain, BOB, model_id, 0, b"two"))[0]) == ("", 0)
    before = rounds_snapshot(chain)
    result, _ = chain.run(CAROL, submit_msg(chain, CAROL, model_id, 0, b"three"))
    assert code(result) == err(RoundFull)
    assert rounds_snapshot(chain) == before


def test_the_snapshot_holds_when_the_validator_set_changes(setup):
    from chain.validators.messages import MsgCreateValidator
    from sealingutil import validator_public_key
    chain, model_id = fresh(setup)
    assert code(chain.run(BOB, submit_msg(chain, BOB, model_id, 0, b"a"))[0]) == ("", 0)
    snapshot = chain.query_json("/rounds/round", u64(model_id, 0))
    join = MsgCreateValidator(consensus_pubkey=b"\x07" * 32, encryption_pubkey=validator_public_key(9),
                              bond=Coin.of("ugrad", 5_000_000))
    result, _ = chain.run(CAROL, join)
    assert code(result) == ("", 0), result.log
    chain.block([])
    assert len(chain.query_json("/rounds/round", u64(model_id, 1))["sealing_set"]) == 5  # the next round's view
    after = chain.query_json("/rounds/round", u64(model_id, 0))
    assert after["sealing_set"] == snapshot["sealing_set"] and after["valset_hash"] == snapshot["valset_hash"]
    # sealed to the new set: refused; sealed to the snapshot: accepted
    new_set = [(m["index"], bytes.fromhex(m["encryption_pubkey"]), m["power"])
               for m in chain.query_json("/rounds/round", u64(model_id, 1))["sealing_set"]]
    result, _ = chain.run(CAROL, submit_msg(chain, CAROL, model_id, 0, validators=new_set))
    assert code(result) == err(ValidatorSetMismatch)
    assert code(chain.run(CAROL, submit_msg(chain, CAROL, model_id, 0, b"c"))[0]) == ("", 0)


def test_stale_parent(setup):
    """Parents may be the head or the head when the round opened; an older version is stale."""
    chain, model_id = fresh(setup)
    state = Overlay(chain.app.store)
    model = registry.get_model(state, model_id)
    for v in (1, 2):
        registry.put_version(state, model_id, {"version": v, "parent": v - 1, "weights_hash": model.weights_hash,
                                               "weights_size": model.weights_size, "height": chain.height})
    registry.put_model(state, model.with_(head_version=2, version_count=3))
    ctx = BlockContext(CHAIN_ID, chain.height + 1, 0, 0, b"\x00" * 20)
    with pytest.raises(StaleParent):
        handlers.process_submit_update(state, ctx, BOB.address_bytes, submit_msg(chain, BOB, model_id, 0, parent=0))
    handlers.process_submit_update(state, ctx, BOB.address_bytes, submit_msg(chain, BOB, model_id, 0, parent=2))


def test_genesis_round_trip_keeps_submissions_and_escrow(setup):
    chain, model_id = fresh(setup)
    for wallet in (BOB, CAROL):
        assert code(chain.run(wallet, submit_msg(chain, wallet, model_id, 0, wallet.address.encode()))[0]) == ("", 0)
    exported = export_genesis(chain.app.store)
    assert len(exported["rounds"]["submissions"]) == 2 and len(exported["rounds"]["rounds"]) == 1
    app = Application(MemoryKV())
    app.init_chain(CHAIN_ID, 1, json.dumps(exported).encode())
    app.finalize_block(BlockContext(CHAIN_ID, 1, 0, 0, b"\x00" * 20), [])
    app.commit()
    assert export_genesis(app.store) == exported
    from chain.invariants import check_all
    assert check_all(app.store) == []
    # a genesis whose escrow does not hold the deposits is refused
    broken = json.loads(json.dumps(exported))
    broken["rounds"]["submissions"].pop()
    with pytest.raises(Exception, match="rounds escrow"):
        Application(MemoryKV()).init_chain(CHAIN_ID, 1, json.dumps(broken).encode())


def test_trainer_sdk_seals_to_the_round_set_and_submits(setup):
    chain, model_id = fresh(setup)
    client = in_process_client(chain)
    trainer = Trainer(client, BOB)
    receipt = trainer.submit(model_id, b"delta bytes from the SDK")
    assert receipt.height == chain.height
    info = trainer.round(model_id, 0)
    assert info["submissions"] == 1 and info["submission_list"][0]["submitter"] == BOB.address
    envelope = decode_envelope(chain.query("/rounds/envelope", u64(model_id, 0, 0)).value)
    released = {i: decrypt_share(private_key_of_index(chain, i), envelope, i) for i in (1, 2, 3)}
    assert open_sealed(envelope, released, seal_context(CHAIN_ID, model_id, 0, BOB.address_bytes)) == \
        b"delta bytes from the SDK"
    from client.errors import TxFailed
    with pytest.raises(TxFailed) as failed:
        trainer.submit(model_id, b"again", parent_version=7)
    assert (failed.value.codespace, failed.value.code) == err(UnknownParent)
