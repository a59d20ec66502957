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
