"""Bond drain (issue 13 finding 6): with fewer validation shards than rounds before expiry, the rounds
beyond the shards could never be revealed, so they went void and paid every submitter its deposit again
from the owner's bond: an attacker netted the bond, round after round. A round without a shard to reveal
now takes no submissions (rounds/1), so nothing can be drained through it."""
import pytest

from roundsutil import RoundsChain, delta, submit_msg
from test_release import window

from chain.bank import keeper as bank
from chain.registry import keeper as registry
from chain.rounds import keeper as rounds_keeper
from chainutil import BOB
from registryutil import SHARD_SIZE, activate, code, tiny_model, validation

torch = pytest.importorskip("torch")


def test_bond_drain_round_beyond_the_shards_takes_no_submission():
    _, model = tiny_model()
    _, _, shards = validation(model, samples=2 * SHARD_SIZE)
    assert len(shards.shards) == 2
    chain = RoundsChain()
    model_id = activate(chain, model, shards)
    bond = registry.get_model(chain.app.store, model_id).bond
    start, _ = window(chain, model_id, round_=1)
    chain.until(start - 1)
    assert code(chain.run(BOB, submit_msg(chain, BOB, model_id, 1, delta(model)))[0]) == ("", 0)   # round 1 has a shard
    start, _ = window(chain, model_id, round_=2)
    chain.until(start - 1)
    escrow = bank.balances(chain.app.store, rounds_keeper.ESCROW)
    result, _ = chain.run(BOB, submit_msg(chain, BOB, model_id, 2, delta(model, bump=1)))
    assert code(result) == ("rounds", 1) and "2 validation shards" in result.log
    assert bank.balances(chain.app.store, rounds_keeper.ESCROW) == escrow   # no deposit taken
    assert rounds_keeper.get_round(chain.app.store, model_id, 2) is None    # no round record either
    assert registry.get_model(chain.app.store, model_id).bond == bond


def test_bond_drain_zero_cost_submissions_get_nothing_from_a_void_round():
    """A void round used to pay every opened submission its deposit again from the bond: an attacker's
    zero delta (no training: its candidate is the parent, it could never score) or a spray of variants of
    one update each netted a deposit. Now only a trainer's first update that changes its parent is
    compensated; the attacker gets its deposits and scoring prepayments back, and nothing more."""
    from roundsutil import PREPAY
    from test_release import next_block, votes
    from chainutil import CAROL
    _, model = tiny_model()
    _, _, shards = validation(model)
    chain = RoundsChain()
    model_id = activate(chain, model, shards)
    bond = int(registry.get_model(chain.app.store, model_id).bond)
    start, end = window(chain, model_id, round_=0)
    chain.until(start - 1)
    attack = [delta(model), delta(model, bump=1), delta(model, bump=2), delta(model, bump=3)]
    for update in attack:   # BOB: a zero delta, then variants of one trivial update
        assert code(chain.run(BOB, submit_msg(chain, BOB, model_id, 0, update))[0]) == ("", 0)
    assert code(chain.run(CAROL, submit_msg(chain, CAROL, model_id, 0, delta(model, bump=-1)))[0]) == ("", 0)
    bob, carol = (bank.balance(chain.app.store, w.address_bytes, "ugrad") for w in (BOB, CAROL))
    chain.until(end - 1)
    next_block(chain, votes(chain, end))
    subs = rounds_keeper.submissions(chain.app.store, model_id, 0)
    assert [s["status"] for s in subs] == ["opened"] * 5
    chain.until(rounds_keeper.get_round(chain.app.store, model_id, 0)["release_deadline"])   # never revealed
    subs = rounds_keeper.submissions(chain.app.store, model_id, 0)
    assert [s["status"] for s in subs] == ["void"] * 5
    assert [s["compensation"] for s in subs] == ["0", "100", "0", "0", "100"]
    # BOB spent 4 deposits and 4 prepayments and gets them back with one compensation: 100, not 400
    assert bank.balance(chain.app.store, BOB.address_bytes, "ugrad") == bob + 4 * (100 + PREPAY) + 100
    assert bank.balance(chain.app.store, CAROL.address_bytes, "ugrad") == carol + 100 + PREPAY + 100
    assert int(registry.get_model(chain.app.store, model_id).bond) == bond - 200
    assert bank.balances(chain.app.store, rounds_keeper.ESCROW) == []
