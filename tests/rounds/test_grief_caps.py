"""Cheap griefing (docs/security.md, "Caps in force"): one account must not fill a round with one-grid-step
deltas for the price of fees. The per-submitter cap (rounds param max_submissions_per_submitter) refuses its
extra submissions with a stable code, in FinalizeBlock and in CheckTx, and stores nothing of them; other
trainers still submit."""
import pytest

from roundsutil import PREPAY, RoundsChain, rounds_snapshot, submit_msg

from chain.bank import keeper as bank
from chain.rounds import keeper
from chain.rounds.errors import RoundFull, SubmitterRoundFull
from chain.rounds.params import RoundsParams
from chain.tx.errors import InvalidGenesis
from chainutil import ALICE, BOB, CAROL
from registryutil import activate, code, err, tiny_model_and_shards, u64

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def setup():
    return tiny_model_and_shards()


def fresh(setup, rounds=None, **overrides):
    model, shards = setup
    chain = RoundsChain(rounds)
    return chain, activate(chain, model, shards, round_blocks=20, **overrides)


def test_grief_submitter_cap_refuses_the_fifth_submission_and_stores_nothing(setup):
    chain, model_id = fresh(setup)
    assert RoundsParams().max_submissions_per_submitter == 4
    for i in range(4):  # four one-step deltas from one account: all admitted
        result, _ = chain.run(BOB, submit_msg(chain, BOB, model_id, 0, b"step %d" % i))
        assert code(result) == ("", 0), result.log
    before = rounds_snapshot(chain)
    bob = bank.balance(chain.app.store, BOB.address_bytes, "ugrad")
    fifth = chain.sign(BOB, submit_msg(chain, BOB, model_id, 0, b"step 4"))
    checked = chain.app.check_tx(fifth)                  # the mempool refuses it: never gossiped
    assert (checked.codespace, checked.code) == err(SubmitterRoundFull), checked.log
    result = chain.block([fifth]).tx_results[0]          # a proposer that includes it anyway: refused
    assert code(result) == err(SubmitterRoundFull), result.log
    assert "max_submissions_per_submitter" in result.log
    assert rounds_snapshot(chain) == before              # nothing partial: no record, no index, no deposit
    assert bank.balance(chain.app.store, BOB.address_bytes, "ugrad") == bob - result.gas_used - 10  # only the fee
    # other accounts are not affected
    for wallet in (CAROL, ALICE):
        result, _ = chain.run(wallet, submit_msg(chain, wallet, model_id, 0, b"other " + wallet.address.encode()))
        assert code(result) == ("", 0), result.log
    info = chain.query_json("/rounds/round", u64(model_id, 0))
    assert info["submissions"] == 6
    assert [s["submitter"] for s in info["submission_list"]].count(BOB.address) == 4
    assert bank.balances(chain.app.store, keeper.ESCROW) == [("ugrad", 6 * (100 + PREPAY))]  # deposits + prepaid scoring


def test_grief_submitter_cap_holds_within_one_block_and_in_the_mempool(setup):
    """Five submissions of one account in one block: CheckTx (which accumulates the mempool's effects)
    refuses the fifth, and so does FinalizeBlock if a proposer includes all five."""
    chain, model_id = fresh(setup, rounds={"max_submissions_per_submitter": 4})
    from chain.auth.ante import sequence
    start = sequence(chain.app.store, BOB.address_bytes)
    txs = [chain.sign(BOB, submit_msg(chain, BOB, model_id, 0, b"burst %d" % i), seq=start + i) for i in range(5)]
    checked = [chain.app.check_tx(tx) for tx in txs]
    assert [(c.codespace, c.code) for c in checked] == [("", 0)] * 4 + [err(SubmitterRoundFull)]
    results = chain.block(txs).tx_results
    assert [code(r) for r in results] == [("", 0)] * 4 + [err(SubmitterRoundFull)]
    assert chain.query_json("/rounds/round", u64(model_id, 0))["submissions"] == 4


def test_grief_submitter_cap_is_per_model_round_and_the_round_cap_still_applies(setup):
    chain, model_id = fresh(setup, rounds={"max_submissions_per_submitter": 2, "max_submissions_per_round": 3})
    for i in range(2):
        assert code(chain.run(BOB, submit_msg(chain, BOB, model_id, 0, b"b%d" % i))[0]) == ("", 0)
    assert code(chain.run(BOB, submit_msg(chain, BOB, model_id, 0, b"b2"))[0]) == err(SubmitterRoundFull)
    assert code(chain.run(CAROL, submit_msg(chain, CAROL, model_id, 0, b"c0"))[0]) == ("", 0)
    assert code(chain.run(ALICE, submit_msg(chain, ALICE, model_id, 0, b"a0"))[0]) == err(RoundFull)
    # the next round starts BOB's count afresh
    chain.until(chain.model(model_id)["first_round_start"] + 19)
    assert code(chain.run(BOB, submit_msg(chain, BOB, model_id, 1, b"next"))[0]) == ("", 0)


def test_grief_submitter_cap_param_is_validated():
    for bad in (0, -1, True, "4"):
        with pytest.raises(InvalidGenesis, match="max_submissions_per_submitter"):
            RoundsParams(max_submissions_per_submitter=bad).validate()
