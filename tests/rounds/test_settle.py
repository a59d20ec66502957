"""Closing rounds in process (docs/rounds.md, "Closing a round"): new head by min_improvement with ties to
the earlier submission, the FedAvg aggregate, payouts along the reward curve split by contribution,
deposits back or forfeited, copies earning nothing, void rounds paid from the bond, and a closing model
refunding held deposits. Every block checks the supply and escrow invariants (chainutil.Chain)."""
from fractions import Fraction

import numpy as np
import pytest

from roundsutil import PREPAY, RoundsChain, delta, submit_msg
from test_release import next_block, votes, window

from chain.bank import keeper as bank
from chain.registry.keeper import ESCROW as REGISTRY_ESCROW
from chain.rounds import keeper
from chain.rounds.delta import apply_delta
from chain.tx.coins import Coin
from chain.validators.keeper import COMMUNITY_POOL
from chainutil import ALICE, BOB, CAROL
from client.model import ChainModel, local_score
from client.trainer import delta_from_torch
from registryutil import SHARD_SIZE, VOUCHER, activate, code, digits, tiny_model, train_digits, u64, validation
from test_registry_chain import reveal_msg

torch = pytest.importorskip("torch")
BOUNTY, TARGET = 100_000, 900_000
CURVE = ((0, 0), (5000, 7000), (10_000, 10_000))
REFUND = PREPAY - SHARD_SIZE * 1184   # a scored candidate's prepayment beyond its 100-sample job



@pytest.fixture(scope="module")
def setup():
    net, model = tiny_model()
    X_val, y_val, shards = validation(model, samples=400)     # 4 shards of 100
    X, y = digits()
    X_train, y_train = X[:-400], y[:-400]
    half = len(X_train) // 2
    updates = {"a": delta_from_torch(model, train_digits(net, X_train[:half], y_train[:half])),
               "b": delta_from_torch(model, train_digits(net, X_train[half:], y_train[half:])),
               "poison": delta_from_torch(model, train_digits(net, X_train, (y_train + 1) % 10))}
    return model, shards, X_val, y_val, updates


def shard_data(X_val, y_val, index):
    return X_val[index * SHARD_SIZE:(index + 1) * SHARD_SIZE], y_val[index * SHARD_SIZE:(index + 1) * SHARD_SIZE]


def accuracy(score):
    return score.correct * 1_000_000 // score.total


def reference_payout(bounty, initial, gained_old, gained_new, target=TARGET, curve=CURVE):
    """bounty * (F(p_new) - F(p_old)) / 10000 with Fractions: an implementation independent of the chain's."""
    def F(gained):
        p = min(Fraction(max(gained, 0)), Fraction(target - initial)) / (target - initial) * 10_000
        for (x0, y0), (x1, y1) in zip(curve, curve[1:]):
            if p <= x1:
                return y0 + Fraction(y1 - y0) * (p - x0) / (x1 - x0)
    return int(bounty * (F(gained_new) - F(gained_old)) / 10_000)


def with_delta(model, raw):
    return ChainModel(model.spec, apply_delta(model.spec, model.weights, raw))


def play_round(chain, model_id, round_, submissions, reveal_index=None):
    """Submit (wallet, update[, parent]) in round `round_`'s window, let the validators release after it,
    reveal shard `reveal_index` (None: never), and run blocks until the round closes (or its deadline)."""
    start, end = window(chain, model_id, round_)
    chain.until(max(chain.height, start - 1))
    for wallet, update, *parent in submissions:
        msg = submit_msg(chain, wallet, model_id, round_, update, parent=parent[0] if parent else 0)
        result, _ = chain.run(wallet, msg)
        assert code(result) == ("", 0), result.log
    chain.submitted = {w.address: bank.balance(chain.app.store, w.address_bytes, "ugrad") for w, *_ in submissions}
    chain.until(end - 1)
    next_block(chain, votes(chain, end))
    if reveal_index is not None:
        shards = chain.shards
        assert code(chain.run(ALICE, reveal_msg(model_id, round_, shards, reveal_index))[0]) == ("", 0)
    info = chain.query_json("/rounds/round", u64(model_id, round_))
    for _ in range(80):
        if "closed_height" in info:
            return info
        chain.block([])
        info = chain.query_json("/rounds/round", u64(model_id, round_))
    raise AssertionError(f"round {round_} did not close: {info}")


def new_chain(shards, model, **terms):
    chain = RoundsChain()
    chain.shards = shards
    terms = {"bounty": Coin.of(VOUCHER, BOUNTY), **terms}
    return chain, activate(chain, model, shards, **terms)


def balances(chain, *wallets, denom):
    return [bank.balance(chain.app.store, w.address_bytes, denom) for w in wallets]


def test_a_round_closes_with_a_new_head_confirmed_and_paid_on_the_next_shard(setup):
    model, shards, X_val, y_val, updates = setup
    chain, model_id = new_chain(shards, model, round_blocks=20, reveal_blocks=10)   # round 0 closes during 1
    before = balances(chain, BOB, CAROL, ALICE, denom=VOUCHER)
    pool = bank.balance(chain.app.store, COMMUNITY_POOL, "ugrad")
    info = play_round(chain, model_id, 0, [(BOB, updates["a"]), (CAROL, updates["poison"]), (ALICE, updates["b"])],
                      reveal_index=1)
    X, y = shard_data(X_val, y_val, 1)
    head = accuracy(local_score(model, X, y))
    own = {seq: accuracy(local_score(with_delta(model, updates[k]), X, y)) for seq, k in enumerate(("a", "poison", "b"))}
    assert own[0] > head and own[2] > head > own[1]          # the premise: two honest, one poisoned

    # the aggregate of the two improving updates: mean of their candidates, half to even (numpy's rint)
    cands = [apply_delta(model.spec, model.weights, updates[k]) for k in ("a", "b")]
    mean = tuple(np.rint((a + b) / 2).astype(np.int64) for a, b in zip(*cands))
    agg = accuracy(local_score(ChainModel(model.spec, mean), X, y))
    assert info["aggregate"]["of"] == [0, 2]
    assert accuracy_of(info["aggregate"]["score"]) == agg

    best = max([(own[0], 0, [0]), (own[2], -2, [2]), (agg, -2, [0, 2])], key=lambda c: (c[0], c[1]))
    assert best[0] - head >= 1000
    assert info["new_version"] == 1 and info["winners"] == best[2]
    m = chain.model(model_id)
    assert (m["head_version"], m["initial_score"], m["gained"], m["paid"]) == (1, head, 0, "0")
    assert m["pending"] == {"version": 1, "base": 0, "round": 0, "gain": best[0] - head,
                            "weights": [[seq, own[seq] - head] for seq in best[2]]}
    assert info["paid"] == "0" and info["payout_pending"] is True   # not paid on the shard that chose it

    subs = {s["seq"]: s for s in info["submission_list"]}
    assert [subs[i]["status"] for i in range(3)] == ["settled"] * 3
    assert subs[1]["outcome"] == "harmful" and subs[1]["payout"] == "0" and not subs[1]["deposit_returned"]
    assert [subs[i]["payout_pending"] for i in range(3)] == [i in best[2] for i in range(3)]
    assert bank.balance(chain.app.store, COMMUNITY_POOL, "ugrad") == pool + 100
    assert bank.balances(chain.app.store, keeper.ESCROW) == []       # every deposit settled

    # the version tree: version 1's weights are the winning candidate, parent 0, scored on shard 1
    versions = chain.query_json("/registry/versions", u64(model_id))["versions"]
    assert [(v["version"], v["parent"]) for v in versions] == [(0, None), (1, 0)]
    from chain.scoring.weights import load_weights
    stored = load_weights(chain.query("/registry/weights", u64(model_id, 1)).value, model.spec)
    want = mean if len(best[2]) == 2 else cands[0 if best[2] == [0] else 1]
    assert all(np.array_equal(s, w) for s, w in zip(stored, want))
    assert accuracy_of(versions[1]["scores"][0]) == best[0]

    # round 1 closes on shard 2: version 1 against version 0 there is the confirmed gain that pays
    play_round(chain, model_id, 1, [(CAROL, delta(model), 1)], reveal_index=2)
    X2, y2 = shard_data(X_val, y_val, 2)
    confirmed = accuracy(local_score(ChainModel(model.spec, want), X2, y2)) - accuracy(local_score(model, X2, y2))
    assert confirmed > 0
    paid = reference_payout(BOUNTY, head, 0, confirmed)
    zero = chain.query_json("/rounds/round", u64(model_id, 0))
    assert (int(zero["paid"]), zero["confirmed_round"], zero["confirmed_gain"]) == (paid, 1, confirmed)
    assert paid > 0
    m = chain.model(model_id)
    assert (m["gained"], int(m["paid"]), int(m["escrow"]), m["pending"]) == (confirmed, paid, BOUNTY - paid, None)
    assert bank.balance(chain.app.store, REGISTRY_ESCROW, VOUCHER) == BOUNTY - paid
    subs = {s["seq"]: s for s in zero["submission_list"]}
    payouts = {seq: int(subs[seq]["payout"]) for seq in (0, 2)}
    assert sum(payouts.values()) == paid
    if len(best[2]) == 2:   # split by each update's own gain over the head, remainder to the earliest
        gains = {0: own[0] - head, 2: own[2] - head}
        assert payouts[2] == paid * gains[2] // (gains[0] + gains[2])
    after = balances(chain, BOB, CAROL, ALICE, denom=VOUCHER)
    assert [a - b for a, b in zip(after, before)] == [payouts[0], 0, payouts[2]]


def accuracy_of(record):
    return record["correct"] * 1_000_000 // record["total"]


def test_payouts_telescope_over_rounds_and_a_copy_earns_nothing(setup):
    model, shards, X_val, y_val, updates = setup
    chain, model_id = new_chain(shards, model, round_blocks=20, reveal_blocks=10)   # round r closes during r + 1
    first = play_round(chain, model_id, 0, [(BOB, updates["a"])], reveal_index=0)
    assert first["new_version"] == 1 and first["winners"] == [0]
    # round 1: CAROL re-seals BOB's opened plaintext (public since round 0 opened) against the new head
    pool = bank.balance(chain.app.store, COMMUNITY_POOL, "ugrad")
    second = play_round(chain, model_id, 1, [(CAROL, updates["a"], 1)], reveal_index=2)
    [sub] = second["submission_list"]
    assert (sub["status"], sub["reason"], sub["copy_of"]) == ("invalid", "rounds/10", [0, 0])
    assert "payout" not in sub and bank.balance(chain.app.store, COMMUNITY_POOL, "ugrad") == pool + 100
    assert second["new_version"] is None and second["paid"] == "0"
    # round 1's close confirmed round 0's head on shard 2 and paid it along the curve
    m = chain.model(model_id)
    zero = chain.query_json("/rounds/round", u64(model_id, 0))
    assert (zero["confirmed_round"], zero["confirmed_gain"] >= 0, m["gained"]) == (1, True, max(0, zero["confirmed_gain"]))
    assert int(zero["paid"]) == reference_payout(BOUNTY, m["initial_score"], 0, m["gained"]) == int(m["paid"])
    # round 2: CAROL trains on from version 1 with the other half; a new head waits for its confirmation
    v1 = with_delta(model, updates["a"])
    net_b = delta_from_torch(v1, train_digits(_torch_of(v1), *_half(1), epochs=40))
    third = play_round(chain, model_id, 2, [(CAROL, net_b, 1)], reveal_index=3)
    assert third["paid"] == "0"
    # the model expires before another round confirms it: the pending head is paid on its selecting gain
    chain.until(200)
    m2 = chain.model(model_id)
    third = chain.query_json("/rounds/round", u64(model_id, 2))
    if third["new_version"] is not None:
        assert third["confirmed_gain"] is None and m2["gained"] == m["gained"] + third["head_gain"]
        assert int(third["paid"]) == reference_payout(BOUNTY, m["initial_score"], m["gained"], m2["gained"])
    assert int(m2["paid"]) == int(zero["paid"]) + int(third["paid"]) <= BOUNTY
    assert m2["status"] == "closed" and m2["pending"] is None


def _torch_of(chain_model):
    from client.model import from_chain
    return from_chain(chain_model).float()


def _half(i):
    X, y = digits()
    X, y = X[:-400], y[:-400]
    half = len(X) // 2
    return (X[:half], y[:half]) if i == 0 else (X[half:], y[half:])


def test_ties_go_to_the_earlier_submission_and_min_improvement_gates_the_head(setup):
    model, shards, X_val, y_val, updates = setup
    from chain.rounds.delta import decode_delta
    from chain.scoring.weights import encode_weights
    twin = [d.copy() for d in decode_delta(updates["a"])]
    twin[0][:, 0] += 7                           # input pixel 0 is always 0 in digits: the same scores
    chain, model_id = new_chain(shards, model)
    info = play_round(chain, model_id, 0, [(CAROL, encode_weights(twin)), (BOB, updates["a"])], reveal_index=0)
    subs = {s["seq"]: s for s in info["submission_list"]}
    same = lambda r: (r["correct"], r["total"], r["loss"])  # noqa: E731
    assert same(subs[0]["score"]) == same(subs[1]["score"])
    assert info["winners"] == [0]                # CAROL committed first
    assert subs[0]["outcome"] == "accepted" and subs[1]["outcome"] == "improving"
    assert subs[0]["payout_pending"] and not subs[1]["payout_pending"]
    assert subs[1]["deposit_returned"]

    chain, model_id = new_chain(shards, model, min_improvement=900_000)   # out of reach
    info = play_round(chain, model_id, 0, [(BOB, updates["a"])], reveal_index=0)
    assert info["new_version"] is None and info["paid"] == "0" and chain.model(model_id)["head_version"] == 0
    assert info["submission_list"][0]["outcome"] == "improving"
    assert balances(chain, BOB, denom="ugrad")[0] == chain.submitted[BOB.address] + 100 + REFUND   # deposit back


def test_an_unrevealed_round_is_void_and_paid_from_the_bond(setup):
    model, shards, X_val, y_val, updates = setup
    chain, model_id = new_chain(shards, model, bond=Coin.of("ugrad", 150))
    info = play_round(chain, model_id, 0, [(BOB, updates["a"]), (CAROL, updates["b"])])
    assert info["void"] is True
    subs = info["submission_list"]
    assert [(s["status"], s["compensation"]) for s in subs] == [("void", "100"), ("void", "50")]
    # deposits back, plus compensation in seq order while the 150 bond lasts
    assert balances(chain, BOB, CAROL, denom="ugrad") == [chain.submitted[BOB.address] + 200 + PREPAY,
                                                          chain.submitted[CAROL.address] + 150 + PREPAY]
    assert chain.model(model_id)["bond"] == "0"
    assert bank.balances(chain.app.store, keeper.ESCROW) == []


def test_a_closing_model_refunds_held_deposits(setup):
    model, shards, X_val, y_val, updates = setup
    expiry = 27                  # activation at height 3: round 3's reveal window ends at 4 + 4 * 5 + 3 = 27
    chain, model_id = new_chain(shards, model, expiry_height=expiry)
    m = chain.model(model_id)
    last = max(r for r in range(10) if m["activated_height"] + 1 + (r + 1) * 5 + 3 <= expiry)
    assert m["activated_height"] + 1 + (last + 1) * 5 + 3 == expiry
    chain.until(m["activated_height"] + 1 + last * 5)
    result, _ = chain.run(BOB, submit_msg(chain, BOB, model_id, last, updates["a"]))
    assert code(result) == ("", 0), result.log
    end = m["activated_height"] + 1 + (last + 1) * 5
    chain.until(end - 1)
    next_block(chain, votes(chain, end))
    chain.until(end + 3 - 2)     # reveal in the window's last block: 6 blocks of scoring cannot fit before 27
    assert code(chain.run(ALICE, reveal_msg(model_id, last, shards, 0))[0]) == ("", 0)
    bob = balances(chain, BOB, denom="ugrad")[0]
    chain.until(expiry)
    assert chain.model(model_id)["status"] == "closed"
    [sub] = chain.query_json("/rounds/round", u64(model_id, last))["submission_list"]
    assert (sub["status"], sub["reason"]) == ("void", "the model closed")
    assert balances(chain, BOB, denom="ugrad")[0] == bob + 100 + PREPAY   # its job was dropped: all back
    assert bank.balances(chain.app.store, keeper.ESCROW) == []
    assert chain.query_json("/rounds/queue")["jobs"] == []


def test_leaderboard_and_earnings_queries(setup):
    model, shards, X_val, y_val, updates = setup
    chain, model_id = new_chain(shards, model)
    info = play_round(chain, model_id, 0, [(BOB, updates["a"]), (CAROL, updates["poison"])], reveal_index=1)
    board = chain.query_json("/rounds/leaderboard", u64(model_id))
    assert board["pending"]["round"] == 0 and board["trainers"][0]["earned"] == "0"   # waiting for confirmation
    chain.until(200)                      # expiry: the pending head is paid on its selecting gain
    paid = chain.query_json("/rounds/round", u64(model_id, 0))["paid"]
    board = chain.query_json("/rounds/leaderboard", u64(model_id))
    assert [t["trainer"] for t in board["trainers"]] == [BOB.address, CAROL.address]
    bob, carol = board["trainers"]
    assert (bob["earned"], bob["accepted"], bob["forfeited"]) == (paid, 1, "0")
    assert int(paid) > 0
    assert (carol["earned"], carol["harmful"], carol["forfeited"]) == ("0", 1, "100")
    assert board["rounds"][0]["new_version"] == 1 and board["paid"] == paid and board["pending"] is None
    earned = chain.query_json("/rounds/earnings", BOB.address_bytes)
    assert earned["earned"] == {VOUCHER: paid}
    assert [(s["model_id"], s["round"], s["outcome"]) for s in earned["submissions"]] == [(model_id, 0, "accepted")]
    assert chain.query_json("/rounds/earnings", CAROL.address_bytes)["forfeited"] == {"ugrad": "100"}
    assert chain.query("/rounds/earnings", b"short").code != 0


def test_max_regression_sets_how_much_worse_than_its_parent_is_harmful(setup):
    model, shards, X_val, y_val, updates = setup
    X, y = shard_data(X_val, y_val, 0)
    drop = accuracy(local_score(model, X, y)) - accuracy(local_score(with_delta(model, updates["poison"]), X, y))
    assert drop > 0
    for margin, outcome in ((drop, "neutral"), (drop - 1, "harmful")):   # the margin is inclusive
        chain, model_id = new_chain(shards, model, max_regression=margin)
        info = play_round(chain, model_id, 0, [(CAROL, updates["poison"])], reveal_index=0)
        sub = info["submission_list"][0]
        assert (sub["outcome"], sub["parent_gain"], sub["deposit_returned"]) == (outcome, -drop, outcome == "neutral")
