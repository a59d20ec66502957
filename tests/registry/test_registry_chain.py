"""The model registry in process: register, chunked upload, fund, reveal, budgeted scoring, close and
expiry, queries, genesis round-trip. Invariants (escrow included) are checked after every block."""
import hashlib
import json

import pytest

from chain.app import Application
from chain.bank import keeper as bank
from chain.genesis import export_genesis
from chain.registry import keeper
from chain.store.kv import MemoryKV
from chain.tx.coins import Coin
from chain.registry.messages import MsgFundBounty
from chain.rounds.messages import MsgCloseModel, MsgRevealShard
from chainutil import ALICE, BOB, CAROL, CHAIN_ID
from client.model import local_score, local_score_shard
from registryutil import (REGISTRY, SHARD_SIZE, VOUCHER, RegistryChain, activate, code, register_msg, registered_id,
                          tiny_model, u64, upload_msgs, validation)

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def setup():
    net, model = tiny_model()
    X, y, shards = validation(model)
    return model, X, y, shards


def reveal_msg(model_id, round_, shards, index, proof_index=None):
    proof = shards.proof(index if proof_index is None else proof_index)
    return MsgRevealShard(model_id=model_id, round=round_, shard=shards.shards[index], shard_index=index,
                          proof=proof.encode())


def event_types(block):
    return [e.type for e in block.events]


def test_register_upload_activate(setup):
    model, _, _, shards = setup
    chain = RegistryChain()
    alice_voucher = bank.balance(chain.app.store, ALICE.address_bytes, VOUCHER)
    result, block = chain.run(ALICE, register_msg(model, shards))
    assert code(result) == ("", 0), result.log
    model_id = registered_id(block)
    assert model_id == 1
    record = chain.model(model_id)
    assert record["status"] == "uploading" and record["escrow"] == "100000" and record["bond"] == "50000"
    assert record["chunk_size"] == REGISTRY["max_chunk_bytes"]
    assert record["chunk_count"] == -(-len(model.weights_bytes) // 1024) >= 3
    assert bank.balance(chain.app.store, ALICE.address_bytes, VOUCHER) == alice_voucher - 100_000
    assert bank.balances(chain.app.store, keeper.ESCROW) == [(VOUCHER, 100_000), ("ugrad", 50_000)]
    assert chain.query("/registry/weights", u64(model_id, 0)).code == 19  # UnknownVersion: not uploaded yet

    msgs = upload_msgs(model_id, model.weights_bytes)
    for i, msg in enumerate([msgs[-1], *msgs[:-2]]):  # any order; all but one chunk
        result, _ = chain.run(ALICE, msg)
        assert code(result) == ("", 0) and chain.model(model_id)["chunks_received"] == i + 1
    assert chain.model(model_id)["status"] == "uploading"
    result, block = chain.run(ALICE, msgs[-2])
    assert code(result) == ("", 0)
    assert "model_active" in [e.type for e in result.events]
    record = chain.model(model_id)
    assert record["status"] == "active" and record["activated_height"] == chain.height
    assert record["first_round_start"] == chain.height + 1 and record["head_version"] == 0
    assert chain.query("/registry/weights", u64(model_id, 0)).value == model.weights_bytes
    spec = chain.query("/registry/spec", u64(model_id), prove=True)
    assert spec.value == model.spec_bytes and spec.proof
    versions = chain.query_json("/registry/versions", u64(model_id))
    assert versions["versions"] == [{"version": 0, "parent": None, "weights_hash": hashlib.sha256(
        model.weights_bytes).hexdigest(), "weights_size": len(model.weights_bytes), "height": chain.height, "scores": []}]


def test_fund_bounty_in_the_bounty_denom(setup):
    model, _, _, shards = setup
    chain = RegistryChain()
    model_id = activate(chain, model, shards)
    result, _ = chain.run(CAROL, MsgFundBounty(model_id=model_id, amount=Coin.of(VOUCHER, 2500)))
    assert code(result) == ("", 0)
    assert chain.model(model_id)["escrow"] == "102500"
    assert dict(bank.balances(chain.app.store, keeper.ESCROW))[VOUCHER] == 102_500
    result, _ = chain.run(CAROL, MsgFundBounty(model_id=model_id, amount=Coin.of("ugrad", 10)))
    assert code(result) == ("registry", 5)


def test_reveal_queues_a_job_scored_across_blocks(setup):
    model, X, y, shards = setup
    chain = RegistryChain()
    model_id = activate(chain, model, shards)
    record = chain.model(model_id)
    round_end = record["first_round_start"] + record["round_blocks"]
    chain.until(round_end - 2)
    early, _ = chain.run(ALICE, reveal_msg(model_id, 0, shards, 1))
    assert code(early) == ("registry", 14)  # RevealTooEarly: height round_end - 1 still takes submissions

    fee_before = bank.balance(chain.app.store, ALICE.address_bytes, "ugrad")
    tx = chain.sign(ALICE, reveal_msg(model_id, 0, shards, 1))
    block = chain.block([tx])
    assert chain.height == round_end and code(block.tx_results[0]) == ("", 0), block.tx_results[0].log
    work = SHARD_SIZE * (64 * 16 + 16 * 10)
    attrs = dict(next(e for e in block.tx_results[0].events if e.type == "reveal_shard").attributes)
    assert attrs["work"] == str(work) and attrs["scoring_fee"] == f"{work}ugrad"  # fee_per_work_unit = 1
    min_fee = 10 + len(tx)
    assert bank.balance(chain.app.store, ALICE.address_bytes, "ugrad") == fee_before - min_fee - work
    assert chain.query("/registry/shard", u64(model_id, 1), prove=True).value == shards.shards[1]

    # 118,400 multiply-adds at 50,000 per block: 42 + 42 samples as progress, then the last 16 and the result
    blocks = [block, *[chain.block([]) for _ in range(2)]]
    progress = [e for b in blocks for e in b.events if e.type == "scoring_progress"]
    scored = [(i, e) for i, b in enumerate(blocks) for e in b.events if e.type == "scored"]
    assert [dict(e.attributes)["done"] for e in progress] == ["42", "84"]
    assert [i for i, _ in scored] == [2]
    assert chain.query_json("/rounds/queue")["jobs"] == []

    expected = local_score(model, X[SHARD_SIZE:2 * SHARD_SIZE], y[SHARD_SIZE:2 * SHARD_SIZE])
    assert expected == local_score_shard(model, shards.shards[1])
    scores = chain.query_json("/registry/versions", u64(model_id))["versions"][0]["scores"]
    assert scores == [{"round": 0, "correct": expected.correct, "total": expected.total, "loss": str(expected.loss),
                       "shard_index": 1, "height": chain.height}]
    rounds = chain.model(model_id)["rounds"]
    assert rounds == [{"round": 0, "shard_index": 1, "revealed_height": round_end, "version": 0, "scored": True}]


def test_queue_is_fifo_and_an_oversized_sample_runs_alone(setup):
    model, _, _, shards = setup
    chain = RegistryChain(scoring_work_per_block=1000)  # one sample (1184) is larger than the whole budget
    model_id = activate(chain, model, shards, round_blocks=1, reveal_blocks=5)
    chain.until(chain.model(model_id)["first_round_start"] + 1)  # rounds 0 and 1 have ended
    result, _ = chain.run(ALICE, reveal_msg(model_id, 0, shards, 0))
    assert code(result) == ("", 0)
    jobs = chain.query_json("/rounds/queue")["jobs"]
    assert [(j["round"], j["done"]) for j in jobs] == [(0, 1)]  # one sample ran alone in the reveal's block
    result, _ = chain.run(ALICE, reveal_msg(model_id, 1, shards, 2))
    assert code(result) == ("", 0)
    jobs = chain.query_json("/rounds/queue")["jobs"]
    assert [(j["round"], j["done"]) for j in jobs] == [(0, 2), (1, 0)]  # FIFO: the older job moves first


def test_close_after_expiry_refunds_escrow_and_bond(setup):
    model, _, _, shards = setup
    chain = RegistryChain()
    model_id = activate(chain, model, shards, expiry_height=30)
    voucher = bank.balance(chain.app.store, ALICE.address_bytes, VOUCHER)
    result, _ = chain.run(BOB, MsgCloseModel(model_id=model_id))
    assert code(result) == ("registry", 2)   # only the owner (an early close with no round in flight: test_fair_outcomes)
    chain.until(29)
    before = bank.balance(chain.app.store, ALICE.address_bytes, "ugrad")
    tx = chain.sign(ALICE, MsgCloseModel(model_id=model_id))
    block = chain.block([tx])  # height 30 = expiry: the owner may close
    assert code(block.tx_results[0]) == ("", 0)
    assert dict(block.tx_results[0].events[-1].attributes)["reason"] == "owner"
    assert bank.balance(chain.app.store, ALICE.address_bytes, VOUCHER) == voucher + 100_000
    assert bank.balance(chain.app.store, ALICE.address_bytes, "ugrad") == before - (10 + len(tx)) + 50_000
    assert bank.balances(chain.app.store, keeper.ESCROW) == []
    record = chain.model(model_id)
    assert record["status"] == "closed" and record["escrow"] == "0" and record["bond"] == "0"
    result, _ = chain.run(ALICE, MsgCloseModel(model_id=model_id))
    assert code(result) == ("registry", 8)  # ModelClosed
    # the weights stay readable for audit
    assert chain.query("/registry/weights", u64(model_id, 0)).value == model.weights_bytes


def test_models_past_expiry_close_at_end_block_in_id_order(setup):
    model, _, _, shards = setup
    chain = RegistryChain()
    second_first = activate(chain, model, shards, expiry_height=20)           # id 1
    result, block = chain.run(ALICE, register_msg(model, shards, expiry_height=15))  # id 2, still uploading
    uploading = registered_id(block)
    result, _ = chain.run(CAROL, register_msg(model, shards, expiry_height=15, bounty=Coin.of(VOUCHER, 10)))
    assert code(result) == ("", 0)  # id 3, Carol's
    chain.run(ALICE, upload_msgs(uploading, model.weights_bytes)[0])
    assert bank.balances(chain.app.store, keeper.ESCROW) == [(VOUCHER, 200_010), ("ugrad", 150_000)]
    carol_voucher = bank.balance(chain.app.store, CAROL.address_bytes, VOUCHER)
    blocks = chain.until(15)
    closed = [dict(e.attributes) for e in blocks[-1].events if e.type == "close_model"]
    assert [(c["model_id"], c["reason"]) for c in closed] == [("2", "expired"), ("3", "expired")]
    assert chain.model(uploading)["chunks_received"] == 0
    assert chain.app.store.get(b"reg/w/" + u64(uploading, 0, 0)) is None  # the unfinished upload is gone
    assert bank.balance(chain.app.store, CAROL.address_bytes, VOUCHER) == carol_voucher + 10
    assert chain.model(second_first)["status"] == "active"
    blocks = chain.until(20)
    assert [dict(e.attributes)["model_id"] for e in blocks[-1].events if e.type == "close_model"] == ["1"]
    assert bank.balances(chain.app.store, keeper.ESCROW) == []


def test_uploading_model_can_be_closed_any_time(setup):
    model, _, _, shards = setup
    chain = RegistryChain()
    _, block = chain.run(ALICE, register_msg(model, shards))
    model_id = registered_id(block)
    chain.run(ALICE, upload_msgs(model_id, model.weights_bytes)[1])
    result, _ = chain.run(ALICE, MsgCloseModel(model_id=model_id))
    assert code(result) == ("", 0)
    assert chain.model(model_id)["status"] == "closed"
    assert list(chain.app.store.iterate(b"reg/w/", b"reg/w0")) == []  # its unfinished upload is deleted


def test_queries(setup):
    model, _, _, shards = setup
    chain = RegistryChain()
    model_id = activate(chain, model, shards)
    assert chain.query_json("/registry/params") == {**REGISTRY, "max_open_models_per_owner": 16, "registration_fee": 0,
                                                   "min_cohort_size": 3, "max_cohort_size": 16}
    rows = chain.query_json("/registry/models")["models"]
    assert rows == [{"id": 1, "owner": ALICE.address, "status": "active", "metric": "accuracy",
                     "bounty": f"100000{VOUCHER}", "head_version": 0, "expiry_height": 200}]
    record = chain.model(model_id)
    assert record["owner"] == ALICE.address and record["reward_curve"] == [[0, 0], [5000, 7000], [10000, 10000]]
    assert record["current_round"] == 0 and record["rounds"] == []
    assert code(chain.query("/registry/model", u64(9))) == ("registry", 1)
    assert code(chain.query("/registry/model", b"\x01")) == ("query", 2)
    assert code(chain.query("/registry/weights", u64(model_id, 1))) == ("registry", 19)
    assert code(chain.query("/registry/nope")) == ("query", 1)
    unrevealed = chain.query("/registry/shard", u64(model_id, 0), prove=True)
    assert unrevealed.code == 0 and unrevealed.value == b"" and unrevealed.proof  # absence, proven


def test_genesis_roundtrip_with_models_jobs_and_uploads(setup):
    model, _, _, shards = setup
    chain = RegistryChain(scoring_work_per_block=20_000)
    model_id = activate(chain, model, shards)
    _, block = chain.run(ALICE, register_msg(model, shards))          # model 2: half uploaded
    chain.run(ALICE, upload_msgs(registered_id(block), model.weights_bytes)[0])
    chain.until(chain.model(model_id)["first_round_start"] + 4)
    result, _ = chain.run(ALICE, reveal_msg(model_id, 0, shards, 0))
    assert code(result) == ("", 0)
    assert chain.query_json("/rounds/queue")["jobs"]  # a job is mid-way
    exported = export_genesis(chain.app.store)
    json.dumps(exported)  # plain JSON
    other = Application(MemoryKV())
    assert other.init_chain(CHAIN_ID, 1, json.dumps(exported).encode()).app_hash == chain.app.info()[1]
    assert export_genesis(other._block) == exported


def test_genesis_refuses_an_escrow_that_does_not_match(setup):
    from chain.tx.errors import InvalidGenesis
    model, _, _, shards = setup
    chain = RegistryChain()
    activate(chain, model, shards)
    exported = export_genesis(chain.app.store)
    exported["registry"]["models"][0]["escrow"] = "99999"
    with pytest.raises(InvalidGenesis, match="registry escrow"):
        Application(MemoryKV()).init_chain(CHAIN_ID, 1, json.dumps(exported).encode())
