"""Closing a round at its boundaries (issue 18: mutants of chain/rounds/settle.py that test_settle.py let
live). `-k boundary`: a gain of exactly min_improvement makes a new head and one less does not; a gain of
zero is no improvement (not a head at min_improvement 0, not a member of an aggregate); one improving
update has no aggregate; versions are numbered 1, 2, ... `-k error_path`-free: the closing model leaves no
stale close, deadline or queue key behind.
"""
from __future__ import annotations

import pytest

from chain.rounds import keys
from chain.store.kv import prefix_end
from chainutil import ALICE, BOB, CAROL
from client.model import local_score
from roundsutil import delta, submit_msg
from registryutil import code, u64
from test_registry_chain import reveal_msg
from test_release import next_block, votes, window
from test_settle import accuracy, new_chain, play_round, setup, shard_data, with_delta  # noqa: F401

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def gains(setup):  # noqa: F811
    """Accuracy gain over version 0 on shard 0 (where play_round(reveal_index=0) scores) of each update."""
    model, shards, X_val, y_val, updates = setup
    X, y = shard_data(X_val, y_val, 0)
    head = accuracy(local_score(model, X, y))
    out = {k: accuracy(local_score(with_delta(model, u), X, y)) - head for k, u in updates.items()}
    out["same"] = accuracy(local_score(with_delta(model, delta(model, 7)), X, y)) - head
    return out


def test_settle_boundary_gain_exactly_min_improvement_is_a_new_head(setup, gains):  # noqa: F811
    model, shards, *_, updates = setup
    assert gains["a"] > 0
    chain, model_id = new_chain(shards, model, min_improvement=gains["a"])
    info = play_round(chain, model_id, 0, [(BOB, updates["a"])], reveal_index=0)
    assert (info["new_version"], info["winners"], info["head_gain"]) == (1, [0], gains["a"])
    assert "aggregate" not in info, "one improving update has nothing to aggregate"
    m = chain.model(model_id)
    assert (m["head_version"], m["version_count"]) == (1, 2)
    versions = chain.query_json("/registry/versions", u64(model_id))["versions"]
    assert [(v["version"], v["parent"], v.get("updates")) for v in versions][1][:2] == (1, 0)

    chain, model_id = new_chain(shards, model, min_improvement=gains["a"] + 1)
    info = play_round(chain, model_id, 0, [(BOB, updates["a"])], reveal_index=0)
    assert info["new_version"] is None and info["winners"] == [] and info["head_gain"] == 0
    m = chain.model(model_id)
    assert (m["head_version"], m["version_count"], m["pending"]) == (0, 1, None)
    assert info["submission_list"][0]["outcome"] == "improving"


def test_settle_boundary_zero_gain_is_no_new_head(setup, gains):  # noqa: F811
    model, shards, *_ = setup
    assert gains["same"] == 0, "the premise: input pixel 0 is always 0, its weight changes nothing"
    chain, model_id = new_chain(shards, model, min_improvement=0, max_regression=1)
    info = play_round(chain, model_id, 0, [(BOB, delta(model, 7))], reveal_index=0)
    assert info["new_version"] is None and info["winners"] == []
    sub = info["submission_list"][0]
    assert (sub["outcome"], sub["gain"], sub["parent_gain"], sub["deposit_returned"]) == ("neutral", 0, 0, True)
    assert chain.model(model_id)["version_count"] == 1


def test_settle_boundary_zero_gain_update_is_not_aggregated(setup, gains):  # noqa: F811
    model, shards, *_, updates = setup
    chain, model_id = new_chain(shards, model)
    info = play_round(chain, model_id, 0, [(BOB, updates["a"]), (CAROL, delta(model, 7))], reveal_index=0)
    assert "aggregate" not in info, "only updates that improve the head are aggregated"
    assert info["winners"] == [0] and info["new_version"] == 1
    subs = {s["seq"]: s["outcome"] for s in info["submission_list"]}
    assert subs == {0: "accepted", 1: "neutral"}


def test_settle_boundary_versions_number_consecutively(setup, gains):  # noqa: F811
    model, shards, *_, updates = setup
    chain, model_id = new_chain(shards, model, min_improvement=1, round_blocks=20, reveal_blocks=10)
    info = play_round(chain, model_id, 0, [(BOB, updates["a"])], reveal_index=0)
    assert info["new_version"] == 1
    info = play_round(chain, model_id, 1, [(CAROL, updates["b"], 1)], reveal_index=1)   # b on version 1
    m = chain.model(model_id)
    if info["new_version"] is not None:
        assert info["new_version"] == 2 and (m["head_version"], m["version_count"]) == (2, 3)
    else:
        assert (m["head_version"], m["version_count"]) == (1, 2)
    versions = chain.query_json("/registry/versions", u64(model_id))["versions"]
    assert [v["version"] for v in versions] == list(range(m["version_count"]))


def test_settle_closed_model_leaves_no_stale_keys(setup):  # noqa: F811
    model, shards, *_, updates = setup
    expiry = 27                  # as test_a_closing_model_refunds_held_deposits: the round cannot close first
    chain, model_id = new_chain(shards, model, expiry_height=expiry)
    m = chain.model(model_id)
    last = max(r for r in range(10) if m["activated_height"] + 1 + (r + 1) * 5 + 3 <= expiry)
    chain.until(m["activated_height"] + 1 + last * 5)
    assert code(chain.run(BOB, submit_msg(chain, BOB, model_id, last, updates["a"]))[0]) == ("", 0)
    end = m["activated_height"] + 1 + (last + 1) * 5
    chain.until(end - 1)
    next_block(chain, votes(chain, end))
    chain.until(end + 3 - 2)
    assert code(chain.run(ALICE, reveal_msg(model_id, last, shards, 0))[0]) == ("", 0)
    state = chain.app.store
    assert list(state.iterate(keys.CLOSE, prefix_end(keys.CLOSE))), "the premise: the round waits to close"
    chain.until(expiry)
    assert chain.model(model_id)["status"] == "closed"
    state = chain.app.store
    for prefix in (keys.CLOSE, keys.DEADLINE, keys.QUEUE):
        assert list(state.iterate(prefix, prefix_end(prefix))) == [], f"stale {prefix!r} keys"
    for round_ in range(last + 1):
        record = chain.query_json("/rounds/round", u64(model_id, round_))
        if "release_deadline" in record:
            assert state.get(keys.deadline_key(record["release_deadline"], model_id, round_)) is None


def test_settle_closed_model_clears_the_deadline_of_a_round_still_sealed(setup):  # noqa: F811
    """The model closes while a round's submission is still sealed (before its release deadline): the
    round's deadline entry goes with it, and the deposit comes back."""
    model, shards, *_, updates = setup
    chain, model_id = new_chain(shards, model, expiry_height=12)
    m = chain.model(model_id)
    start, end = window(chain, model_id, 0)
    chain.until(max(chain.height, start - 1))
    result, _ = chain.run(BOB, submit_msg(chain, BOB, model_id, 0, updates["a"]))
    assert code(result) == ("", 0), result.log
    state = chain.app.store
    assert list(state.iterate(keys.DEADLINE, prefix_end(keys.DEADLINE))), "the premise: a deadline is indexed"
    record = chain.query_json("/rounds/round", u64(model_id, 0))
    assert record["release_deadline"] == 12, record  # the model expires in the block the round's deadline is
    chain.until(11)                                   # due: the owner's close runs in it before end-block
    from chain.rounds.messages import MsgCloseModel   # settles the sealed update at its deadline
    result, block = chain.run(ALICE, MsgCloseModel(model_id=model_id))
    assert code(result) == ("", 0) and chain.height == 12, result.log
    # the deadline left with the model: end-block does not settle or void the round a second time
    assert [e.type for e in block.events if e.type in ("round_void", "update_void")] == []
    record = chain.query_json("/rounds/round", u64(model_id, 0))
    assert "void" not in record and record["settled_height"] == record["closed_height"] == 12, record
    assert chain.model(model_id)["status"] == "closed" and m["activated_height"] < 12
    state = chain.app.store
    for prefix in (keys.CLOSE, keys.DEADLINE, keys.QUEUE):
        assert list(state.iterate(prefix, prefix_end(prefix))) == [], f"stale {prefix!r} keys"
    [sub] = chain.query_json("/rounds/round", u64(model_id, 0))["submission_list"]
    assert (sub["status"], sub["reason"]) == ("void", "the model closed")
    chain.until(30)                             # past the deadline it had: nothing left to trip over


def recording(chain):
    """chain.events: the events of every block from now on (end-block events and every tx's)."""
    chain.events = []
    block = chain.block

    def recorded(txs, *args, **kwargs):
        result = block(txs, *args, **kwargs)
        chain.events += list(result.events) + [e for r in result.tx_results for e in r.events]
        return result
    chain.block = recorded
    return chain


def test_settle_events_name_the_head_the_updates_and_the_void(setup):  # noqa: F811
    from chain.results import Event
    model, shards, *_, updates = setup
    chain, model_id = new_chain(shards, model)
    recording(chain)
    play_round(chain, model_id, 0, [(BOB, updates["a"])], reveal_index=0)
    attrs = (("model_id", str(model_id)), ("round", "0"))
    assert Event("new_head", attrs + (("version", "1"), ("parent", "0"), ("updates", "0"))) in chain.events
    assert Event("update_settled", attrs + (("seq", "0"), ("trainer", BOB.address), ("outcome", "accepted"),
                                            ("refunded", "100ugrad"))) in chain.events

    from chain.tx.coins import Coin
    chain, model_id = new_chain(shards, model, bond=Coin.of("ugrad", 150))
    recording(chain)
    play_round(chain, model_id, 0, [(BOB, updates["a"])])
    attrs = (("model_id", str(model_id)), ("round", "0"))
    assert Event("update_void", attrs + (("seq", "0"), ("refunded", "100ugrad"),
                                         ("compensation", "100ugrad"))) in chain.events
    assert Event("round_void", attrs + (("compensation", "100ugrad"),)) in chain.events
