"""Fair outcomes for honest trainers and owners (issue 16 item 5): a trainer's own earlier update again is
not a copy (never forfeited), a copy verdict names what it copied, registration refuses terms that could
never pay, and the model query shows progress toward the target."""
import pytest

from roundsutil import RoundsChain
from test_settle import new_chain, play_round, setup  # noqa: F401 - setup is a fixture

from chain.bank import keeper as bank
from chain.validators.keeper import COMMUNITY_POOL
from chainutil import ALICE, BOB, CAROL
from registryutil import VOUCHER, digits, in_process_client, tiny_model, u64

torch = pytest.importorskip("torch")


def test_self_copy_of_own_earlier_update_is_scored_not_forfeited(setup):
    """The head does not move, BOB retrains deterministically and gets the very same bytes: his own update
    again, scored like any other and never forfeited; the same bytes from CAROL are a copy, named."""
    from roundsutil import delta
    model, shards, X_val, y_val, updates = setup
    chain, model_id = new_chain(shards, model, round_blocks=20, reveal_blocks=10)
    same = delta(model)                      # a delta that leaves the head where it is: neutral
    first = play_round(chain, model_id, 0, [(BOB, same)], reveal_index=0)
    assert first["new_version"] is None
    pool = bank.balance(chain.app.store, COMMUNITY_POOL, "ugrad")
    again = play_round(chain, model_id, 1, [(BOB, same)], reveal_index=2)
    [sub] = again["submission_list"]
    assert sub["status"] == "settled" and "copy_of" not in sub and sub["deposit_returned"], sub
    assert bank.balance(chain.app.store, COMMUNITY_POOL, "ugrad") == pool
    third = play_round(chain, model_id, 2, [(CAROL, same)], reveal_index=3)
    [copy] = third["submission_list"]
    assert (copy["status"], copy["reason"], copy["copy_of"]) == ("invalid", "rounds/10", [0, 0])


def test_self_copy_cli_verdict_names_what_was_copied():
    from cli.rounds import _verdict
    from cli.train import _result_text
    record = {"status": "invalid", "reason": "rounds/10", "copy_of": [0, 3], "deposit": "100",
              "deposit_denom": "ugrad"}
    assert "the same bytes as update 3 of round 0" in _result_text(record)
    assert _verdict(record) == "rounds/10 copy of 0/3"


def test_never_pay_registration_is_refused_before_anything_is_signed():
    from client.model import ModelError
    from client.owner import Owner
    chain = RoundsChain()
    net, _ = tiny_model()
    X, y = digits()
    owner = Owner(in_process_client(chain), ALICE)
    height = chain.height
    with pytest.raises(ModelError, match="never pay"):
        owner.register(net, X[:300], y[:300], 100, f"1000{VOUCHER}", bond="50000ugrad", deposit="100ugrad",
                       target_score=1, expiry_blocks=100)          # any model scores above 1 ppm
    assert chain.height == height and chain.query_json("/registry/models")["models"] == []


def test_never_pay_query_model_shows_progress_toward_the_target(setup):
    model, shards, X_val, y_val, updates = setup
    chain, model_id = new_chain(shards, model, round_blocks=20, reveal_blocks=10)
    assert chain.model(model_id)["progress_bps"] is None          # no round closed yet
    play_round(chain, model_id, 0, [(BOB, updates["a"])], reveal_index=0)
    play_round(chain, model_id, 1, [(CAROL, updates["b"], chain.model(model_id)["head_version"])], reveal_index=2)
    m = chain.model(model_id)
    span = m["target_score"] - m["initial_score"]
    assert m["progress_bps"] == min(m["gained"], span) * 10_000 // span and m["progress_bps"] > 0


def test_early_close_refused_while_a_round_is_in_flight_then_settles_the_head(setup):
    """An owner may close before expiry once no round is in flight: the pending head is paid (on the gain
    that chose it, as at expiry), the unspent bounty and the bond come back. While trainers' submissions
    are in an unclosed round it is refused (registry/18) and nothing changes."""
    from chain.rounds.messages import MsgCloseModel
    from roundsutil import rounds_snapshot, submit_msg
    from registryutil import code
    model, shards, X_val, y_val, updates = setup
    chain, model_id = new_chain(shards, model, round_blocks=20, reveal_blocks=10)
    closed = play_round(chain, model_id, 0, [(BOB, updates["a"])], reveal_index=0)
    assert closed["new_version"] == 1 and chain.model(model_id)["pending"] is not None
    head = chain.model(model_id)["head_version"]
    start = chain.query_json("/rounds/round", u64(model_id, 1))["window_start"]
    chain.until(max(chain.height, start - 1))
    result, _ = chain.run(CAROL, submit_msg(chain, CAROL, model_id, 1, updates["b"], parent=head))
    assert code(result) == ("", 0)
    before = rounds_snapshot(chain)
    result, _ = chain.run(ALICE, MsgCloseModel(model_id=model_id))
    assert code(result) == ("registry", 18) and "round 1 has not closed yet" in result.log
    assert rounds_snapshot(chain) == before
    chain2, model2 = new_chain(shards, model, round_blocks=20, reveal_blocks=10)
    play_round(chain2, model2, 0, [(BOB, updates["a"])], reveal_index=0)
    bob = bank.balance(chain2.app.store, BOB.address_bytes, VOUCHER)
    result, _ = chain2.run(ALICE, MsgCloseModel(model_id=model2))
    assert code(result) == ("", 0)
    m = chain2.model(model2)
    assert m["status"] == "closed" and m["pending"] is None and int(m["paid"]) > 0
    assert bank.balance(chain2.app.store, BOB.address_bytes, VOUCHER) == bob + int(m["paid"])
