"""Scoring opened updates in process (docs/rounds.md, "Update format" and "Scoring updates"): an update is
a weight delta against its parent; a valid one is scored as parent + delta on its round's revealed shard
through the registry's scoring queue, and the score lands on the submission record. A malformed delta is
INVALID with its rounds code and forfeits the deposit."""

import numpy as np
import pytest

from roundsutil import PREPAY, RoundsChain, delta, submit_msg
from test_release import next_block, votes, window

from chain.bank import keeper as bank
from chain.rounds import keeper
from chain.rounds.delta import apply_delta
from chain.scoring.weights import encode_weights
from chain.validators.keeper import COMMUNITY_POOL
from chainutil import ALICE, BOB, CAROL
from client.model import ChainModel, local_score
from client.trainer import delta_from_torch, make_delta
from registryutil import SHARD_SIZE, activate, code, digits, tiny_model, train_digits, u64, validation
from test_registry_chain import reveal_msg

torch = pytest.importorskip("torch")



@pytest.fixture(scope="module")
def setup():
    net, model = tiny_model()
    X_val, y_val, shards = validation(model)
    X, y = digits()
    X_train, y_train = X[:-300], y[:-300]
    honest = delta_from_torch(model, train_digits(net, X_train, y_train))
    poisoned = delta_from_torch(model, train_digits(net, X_train, (y_train + 1) % 10))  # every label flipped
    return model, shards, X_val, y_val, honest, poisoned


def assert_round_trips(chain, pending=False):
    """Export -> import -> one block -> export. With jobs pending, that block scores further: then the
    rounds section and the queued jobs' identities must match."""
    import json
    from chain.app import Application
    from chain.genesis import export_genesis
    from chain.results import BlockContext
    from chain.store.kv import MemoryKV
    from chainutil import CHAIN_ID
    exported = export_genesis(chain.app.store)
    app = Application(MemoryKV())
    app.init_chain(CHAIN_ID, 1, json.dumps(exported).encode())
    app.finalize_block(BlockContext(CHAIN_ID, 1, 0, 0, b"\x00" * 20), [])
    app.commit()
    again = export_genesis(app.store)
    if not pending:
        assert again == exported
        return
    without_jobs = lambda g: {k: v for k, v in g["rounds"].items() if k != "jobs"}  # the queue moves on
    assert without_jobs(again) == without_jobs(exported)
    ident = lambda g: [(j["model_id"], j["version"], j["round"], j.get("update_seq")) for j in g["rounds"]["jobs"]]
    assert ident(again) and ident(exported)[-len(ident(again)):] == ident(again)   # finished jobs leave the front


def expected(model, raw, X, y):
    return local_score(ChainModel(model.spec, apply_delta(model.spec, model.weights, raw)), X, y)


@pytest.mark.parametrize("reveal_first", [False, True])
def test_opened_updates_are_scored_on_the_revealed_shard(setup, reveal_first):
    model, shards, X_val, y_val, honest, poisoned = setup
    chain = RoundsChain()
    model_id = activate(chain, model, shards)
    bad_shape = encode_weights(model.weights[:2])
    too_far = delta(model, bump=(1 << 23) - int(model.weights[0].flat[0]))  # one past the 24-bit range: no clipping
    updates = [(BOB, honest), (CAROL, poisoned), (ALICE, b"\x0a\x03not weights"), (BOB, bad_shape), (CAROL, too_far)]
    for wallet, update in updates:
        assert code(chain.run(wallet, submit_msg(chain, wallet, model_id, 0, update))[0]) == ("", 0)
    _, end = window(chain, model_id)
    chain.until(end - 1)
    if reveal_first:   # the shard is revealed before the updates open: each is queued as it opens
        assert code(chain.run(ALICE, reveal_msg(model_id, 0, shards, 1))[0]) == ("", 0)
    pool = bank.balance(chain.app.store, COMMUNITY_POOL, "ugrad")
    result, _ = next_block(chain, votes(chain, chain.height + 1))
    reasons = [dict(e.attributes).get("reason") for e in result.tx_results[0].events if e.type == "update_invalid"]
    assert reasons == ["rounds/7", "rounds/8", "rounds/9"]
    subs = chain.query_json("/rounds/round", u64(model_id, 0))["submission_list"]
    assert [s["status"] for s in subs] == ["opened", "opened", "invalid", "invalid", "invalid"]
    assert [s.get("reason") for s in subs[2:]] == ["rounds/7", "rounds/8", "rounds/9"]
    assert bank.balance(chain.app.store, COMMUNITY_POOL, "ugrad") == pool + 300   # three deposits forfeited
    # the valid two's deposits and scoring prepayments held (the invalid three got theirs back: no job ran),
    # and after a reveal the owner's reserve for two more owner-side jobs of 100 samples (chain/rounds/fees.py)
    reserve = 2 * 100 * 1184 if reveal_first else 0
    assert bank.balances(chain.app.store, keeper.ESCROW) == [("ugrad", 200 + 2 * PREPAY + reserve)]
    if not reveal_first:   # revealed after opening: the reveal queues the head and both valid updates
        assert code(chain.run(ALICE, reveal_msg(model_id, 0, shards, 1))[0]) == ("", 0)
    queue = chain.query_json("/rounds/queue")["jobs"]
    assert [j.get("update_seq") for j in queue] == [None, 0, 1]   # the head version first
    assert_round_trips(chain, pending=True)   # pending update jobs
    chain.until(chain.height + 12)
    assert_round_trips(chain)   # scores on the submission records
    assert chain.query_json("/rounds/queue")["jobs"] == []
    X, y = X_val[SHARD_SIZE:2 * SHARD_SIZE], y_val[SHARD_SIZE:2 * SHARD_SIZE]
    subs = [chain.query_json("/rounds/submission", u64(model_id, 0, seq)) for seq in range(5)]
    for sub, raw in zip(subs[:2], (honest, poisoned)):
        want = expected(model, raw, X, y)
        assert (sub["score"]["correct"], sub["score"]["total"], int(sub["score"]["loss"])) == \
            (want.correct, want.total, want.loss)
        assert sub["score"]["shard_index"] == 1
    assert all("score" not in s for s in subs[2:])
    head = local_score(model, X, y)
    assert subs[0]["score"]["correct"] > head.correct > subs[1]["score"]["correct"]


def test_make_delta_round_trips(setup):
    model, *_ , honest, _ = setup
    from chain.rounds.delta import decode_delta
    candidate = apply_delta(model.spec, model.weights, honest)
    assert make_delta(model.weights_bytes, encode_weights(candidate), model.spec) == honest
    assert all(np.array_equal(d, c - p) for d, c, p in zip(decode_delta(honest), candidate, model.weights))
