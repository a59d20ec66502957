"""Closing a round, the paths test_settle.py and test_settle_boundaries.py leave out (issue 18: mutants of
chain/rounds/settle.py): an aggregate-mode cohort paid in equal parts with the remainder to its earliest
submitter, a cohort paid nothing, a harmful cohort whose members still get their deposits back, the
cohort's scoring fee split among its members, a void round compensating the members of a cohort whose
mean changes its parent (and not the others), a closing model refunding held members, a round waiting for
its cohorts before it closes, and an open-mode FedAvg aggregate that wins. Amounts and balances are exact:
every balance that moves in the block is listed, and the moves add up to zero.
"""
from __future__ import annotations

import numpy as np
import pytest

from aggregateutil import (K, TRAINERS, AggregateChain, join_msg, masked_msg, play_aggregate_round, release_until,
                           round_info, run_all_ok)
from roundsutil import PREPAY, delta
from test_registry_chain import reveal_msg
from test_release import next_block, votes
from test_settle import BOUNTY, accuracy, new_chain, play_round, reference_payout, setup, shard_data  # noqa: F401
from test_settle_boundaries import recording

from chain.bank import keys as bank_keys
from chain.codec import decode_uint
from chain.registry.keeper import ESCROW as REGISTRY_ESCROW
from chain.results import Event
from chain.rounds import keeper
from chain.rounds.delta import apply_delta, decode_delta, mean_half_even
from chain.scoring.weights import encode_weights, load_weights
from chain.store.kv import prefix_end
from chain.tx.coins import Coin
from chain.validators.keeper import COMMUNITY_POOL
from chainutil import ALICE, BOB, CAROL
from client.model import ChainModel, local_score
from registryutil import VOUCHER, activate, code, curve, u64

torch = pytest.importorskip("torch")
DEPOSIT = 100
JOB = 100 * 1184          # one candidate scored on a 100-sample shard, at fee_per_work_unit 1


def agg_chain(shards, model, **terms):
    chain = recording(AggregateChain())
    chain.shards = shards
    terms = {"bounty": Coin.of(VOUCHER, BOUNTY), "privacy": "aggregate", "cohort_size": K, "round_blocks": 12,
             "reveal_blocks": 8, "min_improvement": 0, **terms}
    return chain, activate(chain, model, shards, **terms)


def all_balances(chain, denom: str) -> dict[bytes, int]:
    """Every account's balance of `denom`, module accounts included."""
    out, n = {}, len(bank_keys.BALANCE)
    for k, v in chain.app.store.iterate(bank_keys.BALANCE, prefix_end(bank_keys.BALANCE)):
        if k[n + 20:].decode() == denom:
            out[k[n:n + 20]] = decode_uint(v)
    return out


def block_moves(chain, denoms=("ugrad", VOUCHER), txs=()):
    """One block; returns {denom: {address: change}} of every balance it changed (and checks they add up to 0)."""
    before = {d: all_balances(chain, d) for d in denoms}
    chain.events = []
    chain.block(list(txs))
    out = {}
    for d in denoms:
        after = all_balances(chain, d)
        out[d] = {a: after.get(a, 0) - before[d].get(a, 0) for a in set(after) | set(before[d])
                  if after.get(a, 0) != before[d].get(a, 0)}
        assert sum(out[d].values()) == 0, (d, out[d])
    return out


def until_closed(chain, model_id, round_, blocks=40):
    """Empty blocks until the round closes; returns (its view, the closing block's moves, the owner's
    scoring reserve the round held before it)."""
    for _ in range(blocks):
        reserve = int(round_info(chain, model_id, round_).get("scoring_reserve", "0"))
        moves = block_moves(chain)
        info = round_info(chain, model_id, round_)
        if "closed_height" in info:
            return info, moves, reserve
    raise AssertionError(f"round {round_} did not close")


def spread(update: bytes, scale: float = 0.5, seed: int = 0) -> tuple[bytes, bytes]:
    """update + e and update - e for a random e of half its size: each improves less than `update`, and
    their mean (and the mean of the two with `update`) is `update` exactly."""
    a = decode_delta(update)
    rng = np.random.default_rng(seed)
    e = [np.rint(scale * x * rng.choice([-1, 1], size=x.shape)).astype(np.int64) for x in a]
    return encode_weights([x + d for x, d in zip(a, e)]), encode_weights([x - d for x, d in zip(a, e)])


def attrs(model_id, round_, *more):
    return (("model_id", str(model_id)), ("round", str(round_))) + more


def members_of(info) -> dict[int, dict]:
    return {m["seq"]: m for m in info["member_list"]}


def fee_parts(n: int) -> list[int]:
    """The cohort's one job split equally among n submitters, the remainder to the earliest."""
    parts = [JOB // n] * n
    parts[0] += JOB - sum(parts)
    return parts


def gain_on(model, X_val, y_val, update: bytes, shard: int) -> int:
    X, y = shard_data(X_val, y_val, shard)
    cand = ChainModel(model.spec, apply_delta(model.spec, model.weights, update))
    return accuracy(local_score(cand, X, y)) - accuracy(local_score(model, X, y))


# --- aggregate mode: a winning cohort ------------------------------------------------------------------------
def test_settle_boundary_aggregate_cohort_win_pays_members_equally_remainder_to_the_earliest(setup):  # noqa: F811
    model, shards, X_val, y_val, updates = setup
    target = 1_000_000                             # the payout stays below the bounty (no cap)
    bounty = 100_001
    chain, model_id = agg_chain(shards, model, expiry_height=120, target_score=target,
                                bounty=Coin.of(VOUCHER, bounty))
    p, q = spread(updates["a"])
    wallets = TRAINERS[:4]                         # join seqs 0..3; seq 0 drops out: 1 is the earliest submitter
    info = play_aggregate_round(chain, model_id, 0, dict(zip(wallets, [updates["b"], p, q, updates["a"]])),
                                dropouts=(wallets[0],))
    [sub] = info["submission_list"]
    assert sub["members"] == [1, 2, 3] and sub["deposit"] == "0"
    gain = gain_on(model, X_val, y_val, updates["a"], 0)   # the mean of a + e, a - e and a is a exactly
    assert gain > 0
    assert code(chain.run(ALICE, reveal_msg(model_id, 0, shards, 0))[0]) == ("", 0)
    info, moves, reserve = until_closed(chain, model_id, 0)
    head = accuracy(local_score(model, *shard_data(X_val, y_val, 0)))

    # the close: the sum is accepted; each submitter's deposit back, the job split 39468 / 39466 / 39466
    assert (info["new_version"], info["winners"], info["head_gain"], info["paid"]) == (1, [0], gain, "0")
    parts = fee_parts(3)
    assert parts == [39468, 39466, 39466]
    members = members_of(info)
    addr = {s: bytes.fromhex(wallets[s].address_bytes.hex()) for s in range(4)}
    assert reserve > 0      # the owner's unspent scoring reserve goes back at the close
    assert moves["ugrad"] == {**{addr[s]: DEPOSIT + PREPAY - parts[s - 1] for s in (1, 2, 3)},
                              keeper.ESCROW: -3 * (DEPOSIT + PREPAY) - reserve, keeper.FEE_COLLECTOR: JOB,
                              ALICE.address_bytes: reserve}
    assert moves[VOUCHER] == {}
    for s in (1, 2, 3):
        m = members[s]
        assert (m["status"], m["outcome"], m["deposit_returned"], m["payout"], m["payout_pending"],
                m["scoring_fee_refund"]) == ("settled", "accepted", True, "0", True, str(PREPAY - parts[s - 1]))
    assert (members[0]["outcome"], members[0]["scoring_fee_refund"], "payout_pending" in members[0]) == \
        ("dropout", str(PREPAY), False)
    [sub] = info["submission_list"]
    assert (sub["status"], sub["outcome"], sub["gain"], sub["parent_gain"], sub["payout"], sub["payout_pending"],
            sub["deposit_returned"], sub["scoring_fee_due"]) == ("settled", "accepted", gain, gain, "0", True, True,
                                                                 str(JOB))
    assert chain.model(model_id)["pending"] == {"version": 1, "base": 0, "round": 0, "gain": gain,
                                                "weights": [[0, gain]]}
    events = [e for e in chain.events if e.type in ("update_settled", "member_settled", "round_closed", "new_head")]
    assert events == [
        Event("new_head", attrs(model_id, 0, ("version", "1"), ("parent", "0"), ("updates", "0"))),
        *[Event("member_settled", attrs(model_id, 0, ("seq", str(s)), ("member", wallets[s].address),
                                        ("outcome", "accepted"), ("refunded", f"{DEPOSIT}ugrad"))) for s in (1, 2, 3)],
        Event("update_settled", attrs(model_id, 0, ("seq", "0"), ("cohort", "0"), ("outcome", "accepted"))),
        Event("round_closed", attrs(model_id, 0, ("new_version", "1"), ("head_version", "1")))]
    stored = load_weights(chain.query("/registry/weights", u64(model_id, 1)).value, model.spec)
    want = apply_delta(model.spec, model.weights, updates["a"])
    assert all(np.array_equal(s, w) for s, w in zip(stored, want))
    assert info["prune_height"] == max(info["closed_height"], info["release_deadline"]) + 100 == 124

    # the model expires: the pending head is paid on its selecting gain, in equal thirds, the remainder to seq 1
    amount = reference_payout(bounty, head, 0, gain, target=target)
    share, rem = divmod(amount, 3)
    assert 0 < amount < bounty and rem, amount
    chain.until(119)
    moves = block_moves(chain)
    assert chain.model(model_id)["status"] == "closed"
    assert moves[VOUCHER] == {addr[1]: share + rem, addr[2]: share, addr[3]: share,
                              REGISTRY_ESCROW: -bounty, ALICE.address_bytes: bounty - amount}
    payouts = [e for e in chain.events if e.type == "payout"]
    assert payouts == [Event("payout", attrs(model_id, 0, ("seq", "0"), ("member", str(s)),
                                             ("trainer", wallets[s].address),
                                             ("amount", f"{share + (rem if s == 1 else 0)}{VOUCHER}")))
                       for s in (1, 2, 3)]
    info = round_info(chain, model_id, 0)
    members = members_of(info)
    for s in (1, 2, 3):
        assert (members[s]["payout"], members[s]["payout_pending"], members[s]["payout_denom"]) == \
            (str(share + (rem if s == 1 else 0)), False, VOUCHER)
    assert members[0]["payout"] == "0" and "payout_pending" not in members[0]
    [sub] = info["submission_list"]
    assert (sub["payout"], sub["payout_pending"], sub["confirmed_gain"]) == (str(amount), False, None)
    assert (info["paid"], info["payout_pending"], info["confirmed_gain"]) == (str(amount), False, None)
    m = chain.model(model_id)
    assert (m["paid"], m["escrow"], m["gained"], m["pending"]) == (str(amount), "0", gain, None)
    # the model's close keeps the heights the round settled (its release deadline) and closed at
    assert (info["settled_height"], info["closed_height"], info["paid_height"]) == (24, 21, 120)
    assert info["prune_height"] == 24 + 100      # scheduled at the close (after the release deadline), kept


def test_settle_boundary_aggregate_cohort_paid_nothing_leaves_no_member_waiting(setup):  # noqa: F811
    """A flat curve below 99.99% progress: the accepted cohort's payout is 0; its members stop waiting."""
    model, shards, X_val, y_val, updates = setup
    chain, model_id = agg_chain(shards, model, expiry_height=120, target_score=1_000_000,
                                reward_curve=curve((0, 0), (9999, 0), (10_000, 10_000)))
    wallets = TRAINERS[:3]
    play_aggregate_round(chain, model_id, 0, dict.fromkeys(wallets, updates["a"]))
    assert code(chain.run(ALICE, reveal_msg(model_id, 0, shards, 0))[0]) == ("", 0)
    info, *_ = until_closed(chain, model_id, 0)
    assert info["new_version"] == 1 and all(m["payout_pending"] for m in info["member_list"])
    chain.until(119)
    moves = block_moves(chain)
    assert moves[VOUCHER] == {REGISTRY_ESCROW: -BOUNTY, ALICE.address_bytes: BOUNTY}
    assert [e for e in chain.events if e.type == "payout"] == []
    info = round_info(chain, model_id, 0)
    assert [(m["payout"], m["payout_pending"]) for m in info["member_list"]] == [("0", False)] * 3
    [sub] = info["submission_list"]
    assert (sub["payout"], sub["payout_pending"], info["paid"], info["payout_pending"]) == ("0", False, "0", False)


def test_settle_boundary_aggregate_harmful_cohort_returns_every_member_deposit(setup):  # noqa: F811
    model, shards, X_val, y_val, updates = setup
    chain, model_id = agg_chain(shards, model)
    wallets = TRAINERS[2:5]                     # no BOB, CAROL: any three trainers
    play_aggregate_round(chain, model_id, 0, dict.fromkeys(wallets, updates["poison"]))
    drop = gain_on(model, X_val, y_val, updates["poison"], 0)
    assert drop < 0
    assert code(chain.run(ALICE, reveal_msg(model_id, 0, shards, 0))[0]) == ("", 0)
    info, moves, reserve = until_closed(chain, model_id, 0)
    assert info["new_version"] is None and info["winners"] == [] and chain.model(model_id)["pending"] is None
    parts = fee_parts(3)
    addr = [w.address_bytes for w in wallets]
    # nothing to the community pool: no one member can be blamed for a sum
    assert moves["ugrad"] == {**{addr[s]: DEPOSIT + PREPAY - parts[s] for s in range(3)},
                              keeper.ESCROW: -3 * (DEPOSIT + PREPAY) - reserve, keeper.FEE_COLLECTOR: JOB,
                              ALICE.address_bytes: reserve}
    assert COMMUNITY_POOL not in moves["ugrad"]
    for s, m in members_of(info).items():
        assert (m["status"], m["outcome"], m["deposit_returned"], m["payout"], "payout_pending" in m,
                m["scoring_fee_refund"]) == ("settled", "harmful", True, "0", False, str(PREPAY - parts[s]))
    [sub] = info["submission_list"]
    assert (sub["outcome"], sub["gain"], sub["parent_gain"], sub["deposit_returned"], sub["payout_pending"]) == \
        ("harmful", drop, drop, False, False)
    assert Event("update_settled", attrs(model_id, 0, ("seq", "0"), ("cohort", "0"), ("outcome", "harmful"))) \
        in chain.events
    assert [e.attributes[-2:] for e in chain.events if e.type == "member_settled"] == \
        [(("outcome", "harmful"), ("refunded", f"{DEPOSIT}ugrad"))] * 3
    assert Event("round_closed", attrs(model_id, 0, ("new_version", ""), ("head_version", "0"))) in chain.events


# --- aggregate mode: a void round and a closing model --------------------------------------------------------
@pytest.mark.parametrize("moving", ["one", "both"])
def test_settle_boundary_void_round_compensates_members_of_a_cohort_whose_mean_changes_its_parent(  # noqa: F811
        setup, moving):
    """7 joiners: cohorts of 3 and 4, the 4's earliest member drops out (settled at the unmask: neither
    refunded again nor compensated, and the members after it still are). "one": only the cohort without
    seq 0 has a non-zero mean, and the bond runs out on its third member; "both": every submitter."""
    model, shards, *_ = setup
    bond = 250 if moving == "one" else 1000
    chain, model_id = agg_chain(shards, model, bond=Coin.of("ugrad", bond))
    wallets = TRAINERS[:7]
    info = round_info(chain, model_id, 0)
    chain.until(info["window_start"] - 1)
    run_all_ok(chain, [(w, join_msg(chain, w, model_id, 0)) for w in wallets])
    chain.until(info["join_end"] - 1)
    cohorts = {c["cohort"]: c["members"] for c in round_info(chain, model_id, 0)["cohort_list"]}
    assert sorted(map(len, cohorts.values())) == [3, 4]
    dropout = min(next(seqs for seqs in cohorts.values() if len(seqs) == 4))
    moving_cohorts = {c for c, seqs in cohorts.items() if moving == "both" or 0 not in seqs}
    cohort_of = {s: c for c, seqs in cohorts.items() for s in seqs}
    run_all_ok(chain, [(w, masked_msg(chain, w, model_id, 0, delta(model, 3 if cohort_of[s] in moving_cohorts else 0)))
                       for s, w in enumerate(wallets) if s != dropout])
    chain.until(info["window_end"] - 1)
    release_until(chain, lambda: all(c["status"] == "unmasked" for c in round_info(chain, model_id, 0)["cohort_list"]))
    deadline = round_info(chain, model_id, 0)["release_deadline"]
    chain.until(deadline - 1)
    moves = block_moves(chain)
    info = round_info(chain, model_id, 0)
    assert info["void"] is True

    left, comp = bond, {}
    for s in range(7):                          # in join order while the bond lasts, moving cohorts only
        comp[s] = min(DEPOSIT, left) if cohort_of[s] in moving_cohorts and s != dropout else 0
        left -= comp[s]
    paid = bond - left
    assert sorted(comp.values()) == ([0] * 4 + [50, 100, 100] if moving == "one" else [0] + [100] * 6)
    held = [s for s in range(7) if s != dropout]
    addr = [w.address_bytes for w in wallets]
    assert moves["ugrad"] == {**{addr[s]: DEPOSIT + PREPAY + comp[s] for s in held},
                              keeper.ESCROW: -6 * (DEPOSIT + PREPAY), REGISTRY_ESCROW: -paid}
    members = members_of(info)
    for s in held:
        m = members[s]
        assert (m["status"], m["reason"], m["compensation"], m["deposit_returned"], m["scoring_fee_refund"]) == \
            ("void", "the owner did not reveal the round's shard", str(comp[s]), True, str(PREPAY))
    assert (members[dropout]["status"], members[dropout]["outcome"], "compensation" in members[dropout]) == \
        ("settled", "dropout", False)
    assert chain.model(model_id)["bond"] == str(bond - paid)
    subs = {s["cohort"]: s for s in info["submission_list"]}
    assert all((s["status"], s["compensation"]) == ("void", "0") for s in subs.values())
    voids = [e for e in chain.events if e.type == "update_void"]
    assert voids == [Event("update_void", attrs(model_id, 0, ("seq", str(s["seq"])), ("refunded", "0ugrad"),
                                                ("compensation", "0ugrad")))
                     for s in sorted(subs.values(), key=lambda s: s["seq"])]
    assert [e.attributes[2] for e in chain.events if e.type == "member_void"] == [("seq", str(s)) for s in held]
    assert Event("round_void", attrs(model_id, 0, ("compensation", f"{paid}ugrad"))) in chain.events


def test_settle_boundary_closing_aggregate_model_refunds_held_members_and_voids_the_cohort(setup):  # noqa: F811
    model, shards, *_, updates = setup
    chain, model_id = agg_chain(shards, model, expiry_height=24)   # round 0's reveal deadline
    wallets = TRAINERS[:4]
    info = play_aggregate_round(chain, model_id, 0, dict.fromkeys(wallets, updates["a"]), dropouts=(wallets[0],))
    assert info["release_deadline"] == 24 and chain.height < 22
    chain.until(22)                  # revealed in the window's last block: two jobs cannot finish before 24
    assert code(chain.run(ALICE, reveal_msg(model_id, 0, shards, 0))[0]) == ("", 0)
    assert chain.query_json("/rounds/queue")["jobs"], "the premise: scoring is still queued"
    reserve = int(round_info(chain, model_id, 0)["scoring_reserve"])
    moves = block_moves(chain)
    assert chain.height == 24 and chain.model(model_id)["status"] == "closed"
    info = round_info(chain, model_id, 0)
    addr = [w.address_bytes for w in wallets]
    assert {a: v for a, v in moves["ugrad"].items() if a in addr or a == keeper.ESCROW} == {
        **{addr[s]: DEPOSIT + PREPAY for s in (1, 2, 3)}, keeper.ESCROW: -3 * (DEPOSIT + PREPAY) - reserve}
    members = members_of(info)
    assert members[0]["status"] == "settled" and members[0]["outcome"] == "dropout"   # settled at the unmask
    for s in (1, 2, 3):
        assert (members[s]["status"], members[s]["reason"], members[s]["scoring_fee_refund"]) == \
            ("void", "the model closed", str(PREPAY))
    [sub] = info["submission_list"]
    assert (sub["status"], sub["reason"]) == ("void", "the model closed")
    assert Event("update_void", attrs(model_id, 0, ("seq", "0"), ("refunded", "0ugrad"))) in chain.events
    assert [e.attributes[2] for e in chain.events if e.type == "member_void"] == [("seq", str(s)) for s in (1, 2, 3)]
    assert keeper.held_deposits(chain.app.store) == {}
    assert chain.query_json("/rounds/queue")["jobs"] == []
    assert "closed_height" in info and info["closed_height"] == 24


def test_settle_boundary_revealed_round_waits_for_its_cohort_to_unmask(setup):  # noqa: F811
    model, shards, X_val, y_val, updates = setup
    chain, model_id = agg_chain(shards, model, reveal_blocks=20)
    wallets = TRAINERS[:3]
    info = round_info(chain, model_id, 0)
    chain.until(info["window_start"] - 1)
    run_all_ok(chain, [(w, join_msg(chain, w, model_id, 0)) for w in wallets])
    chain.until(info["join_end"] - 1)
    run_all_ok(chain, [(w, masked_msg(chain, w, model_id, 0, updates["a"])) for w in wallets])
    chain.until(info["window_end"] - 1)
    assert code(chain.run(ALICE, reveal_msg(model_id, 0, shards, 0))[0]) == ("", 0)   # no vote extensions yet
    chain.until(chain.height + 8)          # time enough to score the head: the round still waits for the sum
    info = round_info(chain, model_id, 0)
    assert info["cohort_list"][0]["status"] == "unmasking" and "closed_height" not in info
    assert info["submission_list"] == [] and chain.query_json("/rounds/queue")["jobs"] == []
    assert "queued_versions" not in info
    next_block(chain, votes(chain, chain.height + 1))
    info, *_ = until_closed(chain, model_id, 0)
    assert (info["new_version"], info["winners"]) == (1, [0])
    assert info["head_gain"] == gain_on(model, X_val, y_val, updates["a"], 0)


# --- open mode: the FedAvg aggregate wins --------------------------------------------------------------------
def test_settle_boundary_open_mode_aggregate_win_is_the_head_and_pays_by_each_gain(setup):  # noqa: F811
    model, shards, X_val, y_val, updates = setup
    p, q = spread(updates["a"])
    gains = [gain_on(model, X_val, y_val, u, 0) for u in (p, q, updates["a"])]
    assert 0 < gains[0] < gains[2] and 0 < gains[1] < gains[2], gains   # the mean beats both its members
    chain, model_id = new_chain(shards, model, expiry_height=120)
    recording(chain)
    before = {w.address_bytes: b for w in (BOB, CAROL) for b in [all_balances(chain, VOUCHER).get(w.address_bytes, 0)]}
    info = play_round(chain, model_id, 0, [(BOB, p), (CAROL, q)], reveal_index=0)
    assert info["aggregate"]["of"] == [0, 1] and info["aggregate"]["version"] == 0
    assert (info["new_version"], info["winners"], info["head_gain"]) == (1, [0, 1], gains[2])
    m = chain.model(model_id)
    assert m["pending"] == {"version": 1, "base": 0, "round": 0, "gain": gains[2],
                            "weights": [[0, gains[0]], [1, gains[1]]]}
    subs = {s["seq"]: s for s in info["submission_list"]}
    assert [(subs[s]["outcome"], subs[s]["payout_pending"], subs[s]["gain"]) for s in (0, 1)] == \
        [("accepted", True, gains[0]), ("accepted", True, gains[1])]
    assert Event("new_head", attrs(model_id, 0, ("version", "1"), ("parent", "0"), ("updates", "0,1"))) in chain.events
    versions = chain.query_json("/registry/versions", u64(model_id))["versions"]
    assert (versions[1]["parent"], versions[1]["updates"]) == (0, [0, 1])
    stored = load_weights(chain.query("/registry/weights", u64(model_id, 1)).value, model.spec)
    cands = [apply_delta(model.spec, model.weights, u) for u in (p, q)]
    want = [mean_half_even([a, b]) for a, b in zip(*cands)]
    assert all(np.array_equal(s, w) for s, w in zip(stored, want))
    assert all(np.array_equal(s, w) for s, w in zip(stored, apply_delta(model.spec, model.weights, updates["a"])))

    head = accuracy(local_score(model, *shard_data(X_val, y_val, 0)))
    amount = reference_payout(BOUNTY, head, 0, gains[2])
    parts = [amount * g // (gains[0] + gains[1]) for g in gains[:2]]
    parts[0] += amount - sum(parts)
    assert parts[0] != amount * gains[0] // (gains[0] + gains[1]), "the premise: a rounding remainder"
    chain.until(119)
    moves = block_moves(chain)
    assert chain.model(model_id)["status"] == "closed"
    assert moves[VOUCHER] == {BOB.address_bytes: parts[0], CAROL.address_bytes: parts[1],
                              REGISTRY_ESCROW: -BOUNTY, **({ALICE.address_bytes: BOUNTY - amount} if amount < BOUNTY
                                                          else {})}
    assert [e for e in chain.events if e.type == "payout"] == [
        Event("payout", attrs(model_id, 0, ("seq", str(s)), ("trainer", w.address), ("amount", f"{parts[s]}{VOUCHER}")))
        for s, w in ((0, BOB), (1, CAROL))]
    zero = round_info(chain, model_id, 0)
    subs = {s["seq"]: s for s in zero["submission_list"]}
    assert [(subs[s]["payout"], subs[s]["payout_pending"]) for s in (0, 1)] == [(str(parts[0]), False),
                                                                              (str(parts[1]), False)]
    assert all(all_balances(chain, VOUCHER).get(a, 0) - before[a] == parts[i]
               for i, a in enumerate((BOB.address_bytes, CAROL.address_bytes)))


def test_settle_boundary_aggregate_of_two_cohorts_pays_a_cohort_whose_part_rounds_to_zero(setup):  # noqa: F811
    """Two improving cohorts (means a + e and a - e): their FedAvg aggregate (a) wins. A bounty of 1 pays
    1 unit: the earlier sum's part (the rounding remainder), then its earliest submitter's; the other
    cohort's members are paid 0 and wait no longer. Scoring costs nothing (fee_per_work_unit 0)."""
    model, shards, X_val, y_val, updates = setup
    chain = recording(AggregateChain(fee_per_work_unit=0))
    chain.shards = shards
    model_id = activate(chain, model, shards, bounty=Coin.of(VOUCHER, 1), privacy="aggregate", cohort_size=K,
                        round_blocks=12, reveal_blocks=8, min_improvement=0, expiry_height=120)
    p, q = spread(updates["a"])
    wallets = TRAINERS[:6]
    info = round_info(chain, model_id, 0)
    chain.until(info["window_start"] - 1)
    run_all_ok(chain, [(w, join_msg(chain, w, model_id, 0)) for w in wallets])
    chain.until(info["join_end"] - 1)
    cohorts = {c["cohort"]: c["members"] for c in round_info(chain, model_id, 0)["cohort_list"]}
    cohort_of = {s: c for c, seqs in cohorts.items() for s in seqs}
    run_all_ok(chain, [(w, masked_msg(chain, w, model_id, 0, p if cohort_of[s] == 0 else q))
                       for s, w in enumerate(wallets)])
    chain.until(info["window_end"] - 1)
    release_until(chain, lambda: all(c["status"] == "unmasked" for c in round_info(chain, model_id, 0)["cohort_list"]))
    assert code(chain.run(ALICE, reveal_msg(model_id, 0, shards, 0))[0]) == ("", 0)
    info, moves, _ = until_closed(chain, model_id, 0)
    subs = {s["cohort"]: s for s in info["submission_list"]}
    gains = {c: gain_on(model, X_val, y_val, u, 0) for c, u in ((0, p), (1, q))}
    assert info["aggregate"]["of"] == sorted(s["seq"] for s in subs.values())
    assert info["winners"] == info["aggregate"]["of"] and info["new_version"] == 1
    assert all(m["scoring_fee"] == "0" and m["scoring_fee_refund"] == "0" for m in info["member_list"])
    assert chain.model(model_id)["pending"]["weights"] == sorted([subs[c]["seq"], gains[c]] for c in (0, 1))
    first = min(subs.values(), key=lambda s: s["seq"])
    chain.until(119)
    moves = block_moves(chain)
    earliest = min(first["members"])
    assert moves[VOUCHER] == {wallets[earliest].address_bytes: 1, REGISTRY_ESCROW: -1}
    payouts = [e for e in chain.events if e.type == "payout"]
    assert sorted(payouts, key=lambda e: e.attributes) == sorted(
        [Event("payout", attrs(model_id, 0, ("seq", str(sub["seq"])), ("member", str(s)),
                               ("trainer", wallets[s].address), ("amount", f"{int(s == earliest)}{VOUCHER}")))
         for sub in subs.values() for s in sub["members"]], key=lambda e: e.attributes)
    info = round_info(chain, model_id, 0)
    assert {m["seq"]: (m["payout"], m["payout_pending"]) for m in info["member_list"]} == \
        {s: (str(int(s == earliest)), False) for s in range(6)}
    assert {s["seq"]: s["payout"] for s in info["submission_list"]} == \
        {s["seq"]: str(int(s["seq"] == first["seq"])) for s in subs.values()}


# --- open mode: an unconfirmed head, compensation once per trainer, a closing model -----------------------
def one_sample_update(model) -> bytes:
    """A delta that wins one more sample of shard 0 and none of shard 1 (found by search; checked below)."""
    arrays = [np.zeros_like(w) for w in model.weights]
    arrays[2].flat[13] = 1861
    return encode_weights(arrays)


def test_settle_boundary_head_not_confirmed_on_the_fresh_shard_pays_nothing_and_gains_nothing(setup):  # noqa: F811
    model, shards, X_val, y_val, updates = setup
    update = one_sample_update(model)
    assert (gain_on(model, X_val, y_val, update, 0), gain_on(model, X_val, y_val, update, 1)) == (10_000, 0)
    chain, model_id = new_chain(shards, model, round_blocks=20, reveal_blocks=10)
    recording(chain)
    first = play_round(chain, model_id, 0, [(BOB, update)], reveal_index=0)
    assert (first["new_version"], first["head_gain"]) == (1, 10_000)
    play_round(chain, model_id, 1, [(CAROL, delta(model), 1)], reveal_index=1)
    zero = round_info(chain, model_id, 0)
    assert (zero["paid"], zero["payout_pending"], zero["confirmed_round"], zero["confirmed_gain"]) == ("0", False, 1, 0)
    [sub] = zero["submission_list"]
    assert (sub["payout"], sub["payout_pending"], sub["confirmed_gain"]) == ("0", False, 0)
    m = chain.model(model_id)
    assert (m["gained"], m["paid"], m["escrow"], m["pending"]) == (0, "0", str(BOUNTY), None)
    assert [e for e in chain.events if e.type == "payout"] == []
    one = round_info(chain, model_id, 1)
    assert one["queued_versions"] == [0]     # the base, scored once on shard 1 (the head: the reveal's job)
    assert m["bond"] == "50000"



def test_settle_boundary_confirming_round_charges_each_owner_job_once(setup):  # noqa: F811
    """Round 1 confirms round 0's head: version 0 is scored on shard 1 by one owner job, queued once
    however many blocks the round waits for it."""
    model, shards, X_val, y_val, updates = setup
    from roundsutil import submit_msg
    chain, model_id = new_chain(shards, model, round_blocks=20, reveal_blocks=10)
    play_round(chain, model_id, 0, [(BOB, updates["a"])], reveal_index=0)
    from test_release import window
    start, end = window(chain, model_id, 1)
    chain.until(max(chain.height, start - 1))
    assert code(chain.run(CAROL, submit_msg(chain, CAROL, model_id, 1, delta(model), parent=1))[0]) == ("", 0)
    chain.until(end - 1)
    next_block(chain, votes(chain, end))
    assert code(chain.run(ALICE, reveal_msg(model_id, 1, shards, 1))[0]) == ("", 0)
    reserve0 = int(round_info(chain, model_id, 1)["scoring_reserve"])
    info, moves, reserve = until_closed(chain, model_id, 1)
    assert reserve0 - reserve == JOB and info["queued_versions"] == [0], (reserve0, reserve)
    assert moves["ugrad"][ALICE.address_bytes] == reserve
    assert chain.model(model_id)["bond"] == "50000"


def test_settle_boundary_void_round_compensates_a_trainer_once_and_a_zero_delta_never(setup):  # noqa: F811
    model, shards, X_val, y_val, updates = setup
    chain, model_id = new_chain(shards, model, bond=Coin.of("ugrad", 1000))
    info = play_round(chain, model_id, 0, [(BOB, updates["a"]), (BOB, updates["b"]), (CAROL, delta(model))])
    assert info["void"] is True
    subs = {s["seq"]: s for s in info["submission_list"]}
    assert [(subs[s]["status"], subs[s]["compensation"]) for s in range(3)] == [("void", "100"), ("void", "0"),
                                                                                ("void", "0")]
    assert chain.model(model_id)["bond"] == "900"


def test_settle_boundary_closing_model_skips_a_settled_submission_and_refunds_the_next(setup):  # noqa: F811
    """The model closes while round `last` waits for scoring: its invalid seq 0 stays invalid, the held
    seq 1 after it is refunded."""
    model, shards, X_val, y_val, updates = setup
    from roundsutil import submit_msg
    expiry = 27
    chain, model_id = new_chain(shards, model, expiry_height=expiry)
    m = chain.model(model_id)
    last = max(r for r in range(10) if m["activated_height"] + 1 + (r + 1) * 5 + 3 <= expiry)
    chain.until(m["activated_height"] + 1 + last * 5)
    for wallet, update in ((BOB, b"not a delta"), (CAROL, updates["a"])):
        assert code(chain.run(wallet, submit_msg(chain, wallet, model_id, last, update))[0]) == ("", 0)
    end = m["activated_height"] + 1 + (last + 1) * 5
    chain.until(end - 1)
    next_block(chain, votes(chain, end))
    chain.until(end + 3 - 2)
    assert code(chain.run(ALICE, reveal_msg(model_id, last, shards, 0))[0]) == ("", 0)
    subs = {s["seq"]: s for s in round_info(chain, model_id, last)["submission_list"]}
    assert (subs[0]["status"], subs[1]["status"]) == ("invalid", "opened")
    carol = all_balances(chain, "ugrad")[CAROL.address_bytes]
    chain.until(expiry)
    assert chain.model(model_id)["status"] == "closed"
    subs = {s["seq"]: s for s in round_info(chain, model_id, last)["submission_list"]}
    assert subs[0]["status"] == "invalid" and (subs[1]["status"], subs[1]["reason"]) == ("void", "the model closed")
    assert all_balances(chain, "ugrad")[CAROL.address_bytes] == carol + DEPOSIT + PREPAY


def test_settle_boundary_harmful_update_event_names_the_forfeit(setup):  # noqa: F811
    model, shards, X_val, y_val, updates = setup
    chain, model_id = new_chain(shards, model)
    recording(chain)
    info = play_round(chain, model_id, 0, [(CAROL, updates["poison"])], reveal_index=0)
    assert info["submission_list"][0]["outcome"] == "harmful"
    assert Event("update_settled", attrs(model_id, 0, ("seq", "0"), ("trainer", CAROL.address), ("outcome", "harmful"),
                                         ("forfeited", f"{DEPOSIT}ugrad"))) in chain.events


def test_settle_boundary_void_round_skips_an_invalid_submission_and_voids_the_next(setup):  # noqa: F811
    model, shards, X_val, y_val, updates = setup
    chain, model_id = new_chain(shards, model, bond=Coin.of("ugrad", 1000))
    info = play_round(chain, model_id, 0, [(BOB, b"not a delta"), (CAROL, updates["a"])])
    assert info["void"] is True
    subs = {s["seq"]: s for s in info["submission_list"]}
    assert subs[0]["status"] == "invalid" and "compensation" not in subs[0]
    assert (subs[1]["status"], subs[1]["reason"], subs[1]["compensation"]) == \
        ("void", "the owner did not reveal the round's shard", "100")
    assert chain.model(model_id)["bond"] == "900"
