"""Aggregate mode in process (docs/privacy.md "Aggregate mode"): cohorts from the join close, masked
updates, one released secret per member, the cohort's mean as the only update the chain stores, scored
and paid like an update, dropouts, void cohorts, and the refusals. Every block checks the supply and
escrow invariants (chainutil.Chain)."""
import numpy as np
import pytest

from aggregateutil import (K, TRAINERS, AggregateChain, join_msg, masked_msg, my_member, ok, play_aggregate_round,
                           release_until, round_info, run_all_ok, run_ok)
from roundsutil import delta, rounds_snapshot, submit_msg
from test_release import next_block, votes

from chain.bank import keeper as bank
from chain.rounds import keeper
from chain.rounds.delta import decode_delta, mean_half_even
from chain.store.kv import prefix_end
from chain.tx.coins import Coin
from chainutil import BOB
from registryutil import VOUCHER, activate, code, err, tiny_model_and_shards, u64
from test_registry_chain import reveal_msg
from chain.registry.errors import InvalidModelTerms
from chain.rounds.errors import AlreadyJoined, NotCohortMember, RoundNotOpen, StaleParent, WrongPrivacyMode
from chain.secagg.errors import SecaggError

ROUND_BLOCKS = 12


@pytest.fixture(scope="module")
def setup():
    return tiny_model_and_shards()


def new_chain(model, shards, **terms):
    chain = AggregateChain()
    chain.shards = shards
    terms = {"bounty": Coin.of(VOUCHER, 100_000), "privacy": "aggregate", "cohort_size": K,
             "round_blocks": ROUND_BLOCKS, "reveal_blocks": 8, "min_improvement": 0, **terms}
    return chain, activate(chain, model, shards, **terms)


def updates_for(model, wallets, bumps):
    return {w: delta(model, bump=b) for w, b in zip(wallets, bumps)}


def all_values(chain) -> list[bytes]:
    state = chain.app.store
    return [v for _, v in state.iterate(b"", b"\xff" * 8)]


def test_aggregate_mode_cohort_sum_is_the_exact_mean_and_no_single_update_is_stored(setup):
    model, shards = setup
    chain, model_id = new_chain(model, shards)
    wallets = TRAINERS[:4]                     # one cohort of 4 (k = 3)
    updates = updates_for(model, wallets, [3, 5, 10, -4])
    info = play_aggregate_round(chain, model_id, 0, updates)
    [cohort] = info["cohort_list"]
    assert cohort["status"] == "unmasked" and sorted(cohort["submitted"]) == [0, 1, 2, 3]
    [sub] = info["submission_list"]
    assert sub["cohort"] == 0 and sub["members"] == [0, 1, 2, 3] and sub["status"] == "opened"
    stored = chain.query("/rounds/update", u64(model_id, 0, sub["seq"])).value
    expected = [mean_half_even([decode_delta(u)[i] for u in updates.values()]) for i in range(len(model.weights))]
    assert all(np.array_equal(a, b) for a, b in zip(decode_delta(stored), expected))
    assert decode_delta(stored)[0].flat[0] == 4    # (3 + 5 + 10 - 4) / 4 = 3.5 -> 4 (half to even)
    # nothing of any one member is left: no masked vector, no sealed secret, no released share
    state = chain.app.store
    for prefix in (b"rnd/jm/", b"rnd/je/", b"rnd/jx/", b"rnd/e/", b"rnd/x/"):
        assert list(state.iterate(prefix, prefix_end(prefix))) == [], prefix
    values = all_values(chain)
    for update in updates.values():
        assert update not in values


def test_aggregate_mode_round_scores_pays_members_equally_and_returns_deposits(setup):
    model, shards = setup
    chain, model_id = new_chain(model, shards)
    wallets = TRAINERS[:3]
    updates = updates_for(model, wallets, [40, 40, 40])
    before = [bank.balance(chain.app.store, w.address_bytes, "ugrad") for w in wallets]
    info = play_aggregate_round(chain, model_id, 0, updates)
    ok(chain.run(chain_owner(), reveal_msg(model_id, 0, shards, 0))[0])
    for _ in range(40):
        info = round_info(chain, model_id, 0)
        if "closed_height" in info:
            break
        chain.block([])
    assert "closed_height" in info
    members = info["member_list"]
    assert all(m["status"] == "settled" and m["deposit_returned"] for m in members)
    outcomes = {m["outcome"] for m in members}
    assert len(outcomes) == 1        # one cohort, one outcome shared by all its members
    after = [bank.balance(chain.app.store, w.address_bytes, "ugrad") for w in wallets]
    # each paid the join and masked tx fees and its part of the cohort's one scoring job, nothing more
    assert all(a < b for a, b in zip(after, before))
    assert max(b - a for a, b in zip(after, before)) - min(b - a for a, b in zip(after, before)) < 2000


def chain_owner():
    from chainutil import ALICE
    return ALICE


def test_aggregate_mode_dropout_masks_are_removed_and_the_sum_is_exact(setup):
    """secagg with a dropout: 4 join, 3 submit; the dropout's round key (never its seed) is released and its
    pair masks leave the others' sum."""
    model, shards = setup
    chain, model_id = new_chain(model, shards)
    wallets = TRAINERS[:4]
    updates = updates_for(model, wallets, [2, 4, 6, 100])
    dropout = wallets[3]
    info = play_aggregate_round(chain, model_id, 0, updates, dropouts=(dropout,))
    [cohort] = info["cohort_list"]
    assert cohort["status"] == "unmasked" and len(cohort["submitted"]) == 3
    [sub] = info["submission_list"]
    stored = decode_delta(chain.query("/rounds/update", u64(model_id, 0, sub["seq"])).value)
    assert stored[0].flat[0] == 4                    # (2 + 4 + 6) / 3: the dropout's 100 is nowhere
    me = next(m for m in info["member_list"] if m["member"] == dropout.address)
    assert me["release"] == "key" and me["status"] == "settled" and me["outcome"] == "dropout"
    assert all(m["release"] == "seed" for m in info["member_list"] if m["member"] != dropout.address)


def test_aggregate_mode_cohort_below_k_is_void_nothing_released_and_deposits_back(setup):
    model, shards = setup
    chain, model_id = new_chain(model, shards)
    wallets = TRAINERS[:3]
    updates = updates_for(model, wallets, [1, 2, 3])
    before = {w.address: bank.balance(chain.app.store, w.address_bytes, "ugrad") for w in wallets}
    info = round_info(chain, model_id, 0)
    chain.until(info["window_start"] - 1)
    for w in wallets:
        run_ok(chain, w, join_msg(chain, w, model_id, 0))
    chain.until(info["join_end"] - 1)
    for w in wallets[:2]:                             # one drops out: 2 < k submitted
        run_ok(chain, w, masked_msg(chain, w, model_id, 0, updates[w]))
    chain.until(info["window_end"] - 1)
    for _ in range(3):                               # nobody releases anything for a void cohort
        exts = votes(chain, chain.height + 1)
        assert all(ext == b"" for _, ext in exts)
        next_block(chain, exts)
    info = round_info(chain, model_id, 0)
    [cohort] = info["cohort_list"]
    assert cohort["status"] == "void" and info["submission_list"] == []
    assert all(m["status"] == "void" and m["deposit_returned"] for m in info["member_list"])
    assert list(chain.app.store.iterate(b"rnd/jx/", prefix_end(b"rnd/jx/"))) == []
    assert list(chain.app.store.iterate(b"rnd/jm/", prefix_end(b"rnd/jm/"))) == []
    for w in wallets:   # deposit and prepayment back: only tx fees were spent
        assert before[w.address] - bank.balance(chain.app.store, w.address_bytes, "ugrad") < 60_000


def test_aggregate_mode_fewer_than_k_joiners_form_no_cohort_and_are_refunded(setup):
    model, shards = setup
    chain, model_id = new_chain(model, shards)
    info = round_info(chain, model_id, 0)
    chain.until(info["window_start"] - 1)
    for w in TRAINERS[:2]:
        run_ok(chain, w, join_msg(chain, w, model_id, 0))
    chain.until(info["join_end"])
    info = round_info(chain, model_id, 0)
    assert info["cohort_list"] == [] and info["cohorts"] == 0
    assert all(m["status"] == "void" for m in info["member_list"])
    assert keeper.held_deposits(chain.app.store) == {}


def test_cohort_assignment_uses_the_join_close_block_and_covers_every_joiner(setup):
    """7 joiners, k = 3: two cohorts of 4 and 3 (k..2k-1), every joiner in exactly one."""
    model, shards = setup
    chain, model_id = new_chain(model, shards)
    info = round_info(chain, model_id, 0)
    chain.until(info["window_start"] - 1)
    run_all_ok(chain, [(w, join_msg(chain, w, model_id, 0)) for w in TRAINERS[:7]])
    chain.until(info["join_end"] - 1)
    info = round_info(chain, model_id, 0)
    sizes = sorted(len(c["members"]) for c in info["cohort_list"])
    assert sizes == [3, 4]
    assert sorted(s for c in info["cohort_list"] for s in c["members"]) == list(range(7))
    assert len(info["cohort_seed"]) == 64


def test_aggregate_mode_error_paths_refuse_with_codes_and_store_nothing(setup):
    from dataclasses import replace
    from chain.rounds.messages import MsgSubmitMasked
    model, shards = setup
    chain, model_id = new_chain(model, shards, round_blocks=30)   # a join phase long enough for every refusal
    info = round_info(chain, model_id, 0)
    chain.until(info["window_start"] - 1)

    def refused(wallet, msg, expected):
        before = rounds_snapshot(chain)
        result = code(chain.run(wallet, msg)[0])
        assert result == expected or (isinstance(expected, str) and result[0] == expected), result
        assert rounds_snapshot(chain) == before

    refused(BOB, submit_msg(chain, BOB, model_id, 0, delta(model)), err(WrongPrivacyMode))
    run_ok(chain, BOB, join_msg(chain, BOB, model_id, 0))
    refused(BOB, join_msg(chain, BOB, model_id, 0), err(AlreadyJoined))
    w = TRAINERS[2]
    refused(w, join_msg(chain, w, model_id, 0, parent=1), "rounds")
    refused(w, replace(join_msg(chain, w, model_id, 0), round_pubkey=bytes(32)), err(SecaggError))  # low order
    good = join_msg(chain, w, model_id, 0)      # the envelopes' contexts say which secret is which
    refused(w, replace(good, key_envelope=good.seed_envelope, seed_envelope=good.key_envelope), "sealing")
    refused(w, replace(good, model_id=model_id + 1), "registry")
    chain.until(info["join_end"] - 1)
    refused(w, join_msg(chain, w, model_id, 0), err(RoundNotOpen))
    refused(TRAINERS[5], MsgSubmitMasked(model_id=model_id, round=0, masked=bytes(8 * 1210)), err(NotCohortMember))


def test_aggregate_mode_registration_bounds_cohort_size(setup):
    from registryutil import register_msg
    model, shards = setup
    chain = AggregateChain()
    for k in (0, 2, 17):
        result, _ = chain.run(chain_owner(), register_msg(model, shards, privacy="aggregate", cohort_size=k,
                                                          round_blocks=ROUND_BLOCKS))
        assert code(result) == err(InvalidModelTerms), k
    result, _ = chain.run(chain_owner(), register_msg(model, shards, privacy="secret"))
    assert code(result) == err(InvalidModelTerms)
    result, _ = chain.run(chain_owner(), register_msg(model, shards, privacy="aggregate", cohort_size=3,
                                                      round_blocks=1))
    assert code(result) == err(InvalidModelTerms)


def test_aggregate_mode_shares_below_two_thirds_cannot_unmask(setup):
    model, shards = setup
    chain, model_id = new_chain(model, shards)
    wallets = TRAINERS[:3]
    updates = updates_for(model, wallets, [1, 2, 3])
    info = round_info(chain, model_id, 0)
    chain.until(info["window_start"] - 1)
    for w in wallets:
        run_ok(chain, w, join_msg(chain, w, model_id, 0))
    chain.until(info["join_end"] - 1)
    for w in wallets:
        run_ok(chain, w, masked_msg(chain, w, model_id, 0, updates[w]))
    chain.until(info["window_end"] - 1)
    for _ in range(4):            # two of four validators (20 of 40 power) release, block after block
        next_block(chain, votes(chain, chain.height + 1)[:2])
    info = round_info(chain, model_id, 0)
    assert info["cohort_list"][0]["status"] == "unmasking" and info["submission_list"] == []
    release_until(chain, lambda: round_info(chain, model_id, 0)["cohort_list"][0]["status"] == "unmasked")


def test_aggregate_mode_cli_query_round_lists_cohorts_and_joins_never_an_update(setup, tmp_path):
    """`gradchain query round` on an aggregate-mode round: the cohort, who submitted, its mean's fate, and
    every join with its status; the text never shows an update."""
    import client.client
    from click.testing import CliRunner
    from cli.main import main
    from registryutil import InProcessRPC
    model, shards = setup
    chain, model_id = new_chain(model, shards)
    wallets = TRAINERS[:4]
    play_aggregate_round(chain, model_id, 0, updates_for(model, wallets, [1, 2, 3, 4]), dropouts=(wallets[3],))
    original = client.client.Client

    def in_process(url="", timeout=30.0, **anchor):
        c = original("http://in-process")
        c.rpc.close()
        c.rpc = InProcessRPC(chain)
        return c
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(client.client, "Client", in_process)
        result = CliRunner().invoke(main, ["--home", str(tmp_path), "-o", "text", "query", "round", str(model_id), "0"])
    assert result.exit_code == 0, result.output
    text = result.output
    assert "aggregate mode, cohorts of 3..5" in text
    assert "cohort 0: members 0, 1, 2, 3; submitted 3; unmasked; mean = update 0" in text
    assert all(w.address in text for w in wallets) and "dropout" in text


def test_tamper_aggregate_mode_swapped_cohort_round_key_is_refused_before_masking(setup):
    """A node that answers a peer's member record with its own round key (so it could remove that pair's
    mask) is caught: the SDK reads the cohort's keys with proofs against a light-verified header."""
    import base64
    from chain.rounds.records import Member
    from client.errors import ProofInvalid
    from registryutil import InProcessRPC, in_process_client
    model, shards = setup
    chain, model_id = new_chain(model, shards)
    wallets = TRAINERS[:3]
    info = round_info(chain, model_id, 0)
    chain.until(info["window_start"] - 1)
    run_all_ok(chain, [(w, join_msg(chain, w, model_id, 0)) for w in wallets])
    chain.until(info["join_end"])
    honest = in_process_client(chain)
    keys = honest.verified.cohort_pubkeys(model_id, 0, 0)
    assert keys == {m["seq"]: bytes.fromhex(m["round_pubkey"]) for m in round_info(chain, model_id, 0)["member_list"]}

    class Swapping(InProcessRPC):
        def abci_query(self, path, data, height=0, prove=False):
            answer = super().abci_query(path, data, height=height, prove=prove)
            if path == "/store" and data.startswith(b"rnd/j/") and answer["value"]:
                record = {**Member.decode(base64.b64decode(answer["value"])),
                          "round_pubkey": "11" * 32}      # the node's own key in place of the peer's
                answer["value"] = base64.b64encode(Member(record).encode()).decode()
            return answer
    lying = in_process_client(chain)
    lying.rpc = Swapping(chain)
    with pytest.raises(ProofInvalid):
        lying.verified.cohort_pubkeys(model_id, 0, 0)


def test_aggregate_mode_error_path_member_whose_round_key_does_not_match_forfeits_others_refunded(setup):
    """A member seals a round key that is not its public key's and drops out: once released, the key
    provably is not its own; that member forfeits its deposit, nothing is unmasked, the others get
    theirs back."""
    from client.secagg import new_member
    from chain.validators.keeper import COMMUNITY_POOL
    model, shards = setup
    chain, model_id = new_chain(model, shards)
    wallets = TRAINERS[:4]
    cheat = wallets[3]
    info = round_info(chain, model_id, 0)
    chain.until(info["window_start"] - 1)
    pool_before = bank.balance(chain.app.store, COMMUNITY_POOL, "ugrad")
    msgs = [(w, join_msg(chain, w, model_id, 0)) for w in wallets[:3]]
    honest_key, other = new_member(), new_member()
    from dataclasses import replace
    bad = replace(join_msg(chain, cheat, model_id, 0, member=other), round_pubkey=honest_key.round_public)
    run_all_ok(chain, msgs + [(cheat, bad)])
    chain.until(info["join_end"] - 1)
    updates = updates_for(model, wallets[:3], [1, 2, 3])
    run_all_ok(chain, [(w, masked_msg(chain, w, model_id, 0, updates[w])) for w in wallets[:3]])
    chain.until(info["window_end"] - 1)
    release_until(chain, lambda: round_info(chain, model_id, 0)["cohort_list"][0]["status"] != "unmasking")
    info = round_info(chain, model_id, 0)
    assert info["cohort_list"][0]["status"] == "invalid" and info["submission_list"] == []
    by = {m["member"]: m for m in info["member_list"]}
    assert by[cheat.address]["status"] == "invalid" and not by[cheat.address]["deposit_returned"]
    assert all(by[w.address]["status"] == "void" and by[w.address]["deposit_returned"] for w in wallets[:3])
    assert bank.balance(chain.app.store, COMMUNITY_POOL, "ugrad") == pool_before + 100   # the cheat's deposit
    assert keeper.held_deposits(chain.app.store) == {}


def test_aggregate_mode_error_path_out_of_range_mean_voids_the_cohort_nobody_blamed(setup):
    """A member masks a delta far outside the spec's range: the mean is not a valid delta; the cohort is
    invalid, every member refunded (nobody can tell whose update it was)."""
    model, shards = setup
    chain, model_id = new_chain(model, shards)
    wallets = TRAINERS[:3]
    arrays = [np.zeros_like(w) for w in model.weights]
    arrays[0].flat[0] = 1 << 40
    from chain.scoring.weights import encode_weights
    updates = {wallets[0]: encode_weights(arrays), wallets[1]: delta(model, 1), wallets[2]: delta(model, 2)}
    info = play_aggregate_round(chain, model_id, 0, updates)
    assert info["cohort_list"][0]["status"] == "invalid"
    [sub] = info["submission_list"]
    assert sub["status"] == "invalid" and sub["reason"] == "rounds/9"
    assert all(m["status"] == "void" and m["deposit_returned"] for m in info["member_list"])
    assert keeper.held_deposits(chain.app.store) == {}
