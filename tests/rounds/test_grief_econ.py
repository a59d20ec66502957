"""Economics that do not pay attackers, cheap griefing (docs/security.md): every scoring job is prepaid by
whoever causes it (chain/rounds/fees.py), a settled round's payloads are pruned after a retention window
(chain/rounds/prune.py) without breaking withholding proofs, and a void round compensates only updates that
could have scored (tests/rounds/test_bond_drain.py). Each chain here is checked by the supply and escrow
invariants after every block and round-trips through genesis at the end (tests/conftest.py)."""
import pytest

from roundsutil import PREPAY, RoundsChain, delta, rounds_snapshot, submit_msg
from test_release import next_block, votes, window

from chain.auth.ante import FEE_COLLECTOR
from chain.bank import keeper as bank
from chain.registry import keeper as registry
from chain.rounds import keeper, keys
from chain.rounds.errors import InsufficientScoringFee, PayloadPruned, WithholdingWindowClosed
from chain.rounds.messages import MsgProveWithholding
from chain.store.kv import prefix_end
from chain.tx.coins import Coin
from chainutil import ALICE, BOB, CAROL
from client.trainer import delta_from_torch
from registryutil import SHARD_SIZE, activate, code, digits, tiny_model, train_digits, u64, validation
from test_registry_chain import reveal_msg

torch = pytest.importorskip("torch")
PER_SAMPLE = 1184               # the tiny digits MLP's multiply-adds per sample
JOB = SHARD_SIZE * PER_SAMPLE   # one job's work on a revealed 100-sample shard


@pytest.fixture(scope="module")
def setup():
    net, model = tiny_model()
    _, _, shards = validation(model, samples=600)          # 6 shards of 100
    X, y = digits()
    X_train, y_train = X[:-600], y[:-600]
    half = len(X_train) // 2
    updates = [delta_from_torch(model, train_digits(net, X_train[:half], y_train[:half])),
               delta_from_torch(model, train_digits(net, X_train[half:], y_train[half:]))]
    return model, shards, updates


def ugrad(chain, address: bytes) -> int:
    return bank.balance(chain.app.store, address, "ugrad")


def submit(chain, wallet, model_id, round_, update):
    result, _ = chain.run(wallet, submit_msg(chain, wallet, model_id, round_, update))
    assert code(result) == ("", 0), result.log


def open_round(chain, model_id, round_=0):
    """From the window's end: the validators release, every submission opens."""
    _, end = window(chain, model_id, round_)
    chain.until(end - 1)
    next_block(chain, votes(chain, end))


def payload_keys(chain) -> dict[bytes, int]:
    out = {}
    for prefix in (keys.ENVELOPE, keys.UPDATE, keys.SHARE):
        out.update({k: len(v) for k, v in chain.app.store.iterate(prefix, prefix_end(prefix))})
    return out


# --- 1. prepaid scoring ----------------------------------------------------------------------------------
def test_grief_submitter_without_scoring_fee_is_refused_and_nothing_partial(setup):
    model, shards, updates = setup
    chain = RoundsChain(fee_per_work_unit=100)      # prepayment 150 x 1184 x 100 = 17,760,000 > BOB's 10**7
    model_id = activate(chain, model, shards)
    start, _ = window(chain, model_id)
    chain.until(start - 1)
    before, bob = rounds_snapshot(chain), ugrad(chain, BOB.address_bytes)
    result, _ = chain.run(BOB, submit_msg(chain, BOB, model_id, 0, updates[0]))
    assert code(result) == (InsufficientScoringFee.codespace, InsufficientScoringFee.code) == ("rounds", 11)
    assert "scoring prepayment 17760000ugrad" in result.log
    assert rounds_snapshot(chain) == before                             # no round record, no deposit
    assert keeper.get_round(chain.app.store, model_id, 0) is None
    assert bank.balances(chain.app.store, keeper.ESCROW) == []
    tx_fee = bob - ugrad(chain, BOB.address_bytes)
    assert 0 < tx_fee < 100_000                                         # only the tx fee was spent
    submit(chain, ALICE, model_id, 0, updates[0])                      # a funded trainer pays it
    assert bank.balances(chain.app.store, keeper.ESCROW) == [("ugrad", 100 + 150 * PER_SAMPLE * 100)]


def test_grief_scoring_fees_equal_work_times_price(setup):
    """Two improving updates: their candidates' jobs are paid by their submitters (prepaid maximum, refund
    of the difference at settle), the head's by the reveal and the FedAvg aggregate's from the owner's
    reserve; the fee collector gets exactly jobs x work x price and the escrows end empty."""
    model, shards, updates = setup
    price = 3
    chain = RoundsChain(fee_per_work_unit=price)
    model_id = activate(chain, model, shards, round_blocks=20, reveal_blocks=10)
    start, _ = window(chain, model_id)
    chain.until(start - 1)
    submit(chain, BOB, model_id, 0, updates[0])
    submit(chain, CAROL, model_id, 0, updates[1])
    prepaid = 150 * PER_SAMPLE * price
    assert bank.balances(chain.app.store, keeper.ESCROW) == [("ugrad", 2 * (100 + prepaid))]
    bob, carol = ugrad(chain, BOB.address_bytes), ugrad(chain, CAROL.address_bytes)
    open_round(chain, model_id)
    alice, collector = ugrad(chain, ALICE.address_bytes), ugrad(chain, FEE_COLLECTOR)
    result, block = chain.run(ALICE, reveal_msg(model_id, 0, shards, 0))
    assert code(result) == ("", 0), result.log
    attrs = dict(next(e for e in result.events if e.type == "reveal_shard").attributes)
    reserve = 2 * JOB * price          # parents {0} = the head: 1 head change + 1 aggregate
    assert attrs["scoring_fee"] == f"{JOB * price}ugrad" and attrs["scoring_reserve"] == f"{reserve}ugrad"
    tx_fee = ugrad(chain, FEE_COLLECTOR) - collector - JOB * price
    assert alice - ugrad(chain, ALICE.address_bytes) == tx_fee + JOB * price + reserve
    assert keeper.get_round(chain.app.store, model_id, 0)["scoring_reserve"] == str(reserve)
    alice, collector = ugrad(chain, ALICE.address_bytes), ugrad(chain, FEE_COLLECTOR)
    scored = []
    for _ in range(60):
        if "closed_height" in keeper.get_round(chain.app.store, model_id, 0):
            break
        scored += [e for e in chain.block([]).events if e.type == "scored"]
    record = keeper.get_round(chain.app.store, model_id, 0)
    assert "closed_height" in record and record["scoring_reserve"] == "0"
    kinds = sorted("update" if any(k == "update_seq" for k, _ in e.attributes) else
                   "aggregate" if any(k == "aggregate_of" for k, _ in e.attributes) else "version" for e in scored)
    assert kinds == ["aggregate", "update", "update", "version"]      # the head, two candidates, FedAvg
    # blocks without txs: what reached the fee collector is the two candidates' and the aggregate's jobs
    assert ugrad(chain, FEE_COLLECTOR) - collector == 3 * JOB * price
    assert ugrad(chain, ALICE.address_bytes) - alice == reserve - JOB * price   # unspent reserve back
    subs = keeper.submissions(chain.app.store, model_id, 0)
    for sub in subs:
        assert sub["scoring_fee"] == str(prepaid) and sub["scoring_fee_due"] == str(JOB * price)
        assert sub["scoring_fee_refund"] == str(prepaid - JOB * price)
    refund = prepaid - JOB * price
    assert ugrad(chain, BOB.address_bytes) == bob + 100 + refund
    assert ugrad(chain, CAROL.address_bytes) == carol + 100 + refund
    assert bank.balances(chain.app.store, keeper.ESCROW) == []


def test_grief_owner_without_the_scoring_reserve_cannot_reveal(setup):
    """The reveal pays the head's job and escrows the reserve for the close's owner-side jobs; an owner who
    can pay the first but not both is refused with rounds/11 and nothing is revealed or charged."""
    model, shards, updates = setup
    price = 3000                    # one 100-sample job: 355,200,000; prepayment 532,800,000
    chain = RoundsChain(fee_per_work_unit=price)
    model_id = activate(chain, model, shards)
    start, _ = window(chain, model_id)
    chain.until(start - 1)
    submit(chain, ALICE, model_id, 0, updates[0])       # ALICE trains too: she alone can afford it
    open_round(chain, model_id)
    have = ugrad(chain, ALICE.address_bytes)
    assert JOB * price < have < 3 * JOB * price         # the head's fee fits, fee + 2-job reserve does not
    before = (rounds_snapshot(chain), dict(chain.app.store.iterate(b"reg/", prefix_end(b"reg/"))))
    result, _ = chain.run(ALICE, reveal_msg(model_id, 0, shards, 0))
    assert code(result) == ("rounds", 11) and "scoring reserve" in result.log
    assert (rounds_snapshot(chain), dict(chain.app.store.iterate(b"reg/", prefix_end(b"reg/")))) == before
    assert registry.get_reveal(chain.app.store, model_id, 0) is None
    assert have - ugrad(chain, ALICE.address_bytes) < 100_000   # the tx fee only


def test_grief_invalid_and_void_submissions_get_their_whole_prepayment_back(setup):
    """No job ran for them, so no scoring fee: only the deposit rule applies (forfeit if invalid)."""
    model, shards, updates = setup
    chain = RoundsChain()
    model_id = activate(chain, model, shards)
    start, _ = window(chain, model_id)
    chain.until(start - 1)
    submit(chain, BOB, model_id, 0, b"not a delta")
    bob = ugrad(chain, BOB.address_bytes)
    open_round(chain, model_id)
    [sub] = keeper.submissions(chain.app.store, model_id, 0)
    assert sub["status"] == "invalid" and sub["scoring_fee_refund"] == str(PREPAY)
    assert ugrad(chain, BOB.address_bytes) == bob + PREPAY
    assert bank.balances(chain.app.store, keeper.ESCROW) == []


# --- 2. payload pruning ------------------------------------------------------------------------------------
def test_grief_payloads_pruned_after_retention_commitments_kept(setup):
    model, shards, updates = setup
    retention = 7
    chain = RoundsChain(rounds={"payload_retention_blocks": retention})
    model_id = activate(chain, model, shards)
    start, _ = window(chain, model_id)
    chain.until(start - 1)
    submit(chain, BOB, model_id, 0, updates[0])
    submit(chain, CAROL, model_id, 0, updates[1])
    open_round(chain, model_id)
    assert code(chain.run(ALICE, reveal_msg(model_id, 0, shards, 0))[0]) == ("", 0)
    while "closed_height" not in keeper.get_round(chain.app.store, model_id, 0):
        chain.block([])
    record = keeper.get_round(chain.app.store, model_id, 0)
    prune_height = max(record["closed_height"], record["release_deadline"]) + retention
    assert record["prune_height"] == prune_height
    chain.until(prune_height - 1)
    assert chain.query("/rounds/envelope", u64(model_id, 0, 0)).value      # still there
    assert chain.query("/rounds/update", u64(model_id, 0, 1)).value
    before = [dict(s) for s in keeper.submissions(chain.app.store, model_id, 0)]
    block = chain.block([])
    assert "payloads_pruned" in [e.type for e in block.events]
    assert payload_keys(chain) == {}
    for old, sub in zip(before, keeper.submissions(chain.app.store, model_id, 0)):
        assert sub["pruned_height"] == prune_height
        assert {k: v for k, v in sub.items() if k != "pruned_height"} == old       # commitments kept
        assert keeper.has_envelope_hash(chain.app.store, model_id, 0, bytes.fromhex(sub["envelope_hash"]))
        assert keeper.first_with_plaintext(chain.app.store, model_id, bytes.fromhex(sub["update_hash"])) == \
            (0, sub["seq"])
    assert keeper.get_round(chain.app.store, model_id, 0)["pruned_height"] == prune_height
    for path in ("/rounds/envelope", "/rounds/update"):
        for prove in (False, True):
            answer = chain.query(path, u64(model_id, 0, 0), prove=prove)
            assert (answer.codespace, answer.code) == ("rounds", PayloadPruned.code) == ("rounds", 12)
            assert "pruned at height" in answer.log
    assert chain.query_json("/rounds/submission", u64(model_id, 0, 0))["pruned_height"] == prune_height
    assert "payloads_pruned" not in [e.type for e in chain.block([]).events]   # done: nothing carries over


def test_grief_sdk_surfaces_a_pruned_payload(setup):
    from client.errors import TxFailed
    from client.rounds import PayloadPrunedError, payload
    from registryutil import in_process_client
    model, shards, updates = setup
    chain = RoundsChain(rounds={"payload_retention_blocks": 1})
    model_id = activate(chain, model, shards)
    start, _ = window(chain, model_id)
    chain.until(start - 1)
    submit(chain, BOB, model_id, 0, updates[0])
    client = in_process_client(chain)
    raw = payload(client, model_id, 0, 0, "envelope", prove=False)
    assert raw == keeper.get_envelope(chain.app.store, model_id, 0, 0)
    open_round(chain, model_id)
    deadline = keeper.get_round(chain.app.store, model_id, 0)["release_deadline"]
    chain.until(deadline + 1)   # never revealed: void at the deadline, pruned one block later
    with pytest.raises(PayloadPrunedError) as caught:
        payload(client, model_id, 0, 0, "update", prove=False)
    assert isinstance(caught.value, TxFailed) and caught.value.name == "PayloadPruned"
    assert "pruned" in str(caught.value) and caught.value.code == 12


def test_grief_withholding_proof_works_inside_its_window_and_never_meets_a_pruned_envelope(setup):
    from test_withhold import CENSORS, member_index, run_censored_round, submit_keyed
    model, shards, _ = setup
    retention = 6
    for late in (False, True):
        chain = RoundsChain(rounds={"payload_retention_blocks": retention})
        model_id = activate(chain, model, shards)
        key = submit_keyed(chain, BOB, model_id, delta(model))
        submit_keyed(chain, CAROL, model_id, delta(model, bump=1))
        run_censored_round(chain, model_id)
        sub = keeper.get_submission(chain.app.store, model_id, 0, 0)
        assert sub["status"] == "void"
        window_end = sub["opened_height"] + retention
        assert keeper.get_round(chain.app.store, model_id, 0)["prune_height"] >= window_end
        msg = MsgProveWithholding(model_id=model_id, round=0, seq=0, key=key)
        if not late:   # in the window's last block the envelope and the shares are still there
            chain.until(window_end - 2)
            result, _ = chain.run(BOB, msg)
            assert chain.height == window_end - 1
            assert code(result) == ("", 0), result.log
            withheld = keeper.get_submission(chain.app.store, model_id, 0, 0)["withheld_by"]
            assert sorted(withheld) == sorted(member_index(chain, model_id, n) for n in CENSORS)
        else:
            chain.until(window_end - 1)
            result, _ = chain.run(BOB, msg)
            assert code(result) == ("rounds", WithholdingWindowClosed.code) == ("rounds", 21)
        chain.until(keeper.get_round(chain.app.store, model_id, 0)["prune_height"])
        assert payload_keys(chain) == {}
        result, _ = chain.run(BOB, msg)
        assert code(result) in (("rounds", 20), ("rounds", 21))   # proved already / too late: never a crash


def test_grief_state_size_bounded_over_many_rounds(setup):
    """Six rounds of three submissions each, never revealed (void): at most a retention window's rounds
    keep payloads, pruning at most one submission per block carries over, and in the end none remain."""
    model, shards, updates = setup
    chain = RoundsChain(rounds={"payload_retention_blocks": 4, "max_prunes_per_block": 1})
    model_id = activate(chain, model, shards, round_blocks=5, reveal_blocks=3)
    peak = 0
    for round_ in range(6):
        start, _ = window(chain, model_id, round_)
        chain.until(start - 1)
        for i, wallet in enumerate((BOB, CAROL, ALICE)):
            submit(chain, wallet, model_id, round_, delta(model, bump=round_ * 3 + i + 1))
        open_round(chain, model_id, round_)
        peak = max(peak, len({k[len(keys.ENVELOPE):len(keys.ENVELOPE) + 16]
                              for k in payload_keys(chain) if k.startswith(keys.ENVELOPE)}))
    assert peak == 2   # rounds holding envelopes at once: the one opening and the one before, in retention
    chain.until(keeper.get_round(chain.app.store, model_id, 5)["release_deadline"])
    last = keeper.get_round(chain.app.store, model_id, 5)
    pruned_per_block = []
    for _ in range(last["prune_height"] + 3 - chain.height):
        before = len([k for k in payload_keys(chain) if k.startswith(keys.ENVELOPE)])
        chain.block([])
        pruned_per_block.append(before - len([k for k in payload_keys(chain) if k.startswith(keys.ENVELOPE)]))
    assert max(pruned_per_block) <= 1                                 # the per-block cap
    assert payload_keys(chain) == {}
    assert keeper.due_deadlines(chain.app.store, 10**9) == []
    assert list(chain.app.store.iterate(keys.PRUNE, prefix_end(keys.PRUNE))) == []
    assert len(keeper.all_submissions(chain.app.store)) == 18         # the records stay
    assert registry.get_model(chain.app.store, model_id).status == "active"
    assert bank.balances(chain.app.store, keeper.ESCROW) == []


def test_grief_bond_is_not_used_for_scoring_unless_the_reserve_runs_out(setup):
    model, shards, updates = setup
    chain = RoundsChain()
    model_id = activate(chain, model, shards, bond=Coin.of("ugrad", 50_000))
    start, _ = window(chain, model_id)
    chain.until(start - 1)
    submit(chain, BOB, model_id, 0, updates[0])
    open_round(chain, model_id)
    assert code(chain.run(ALICE, reveal_msg(model_id, 0, shards, 0))[0]) == ("", 0)
    while "closed_height" not in keeper.get_round(chain.app.store, model_id, 0):
        chain.block([])
    assert registry.get_model(chain.app.store, model_id).bond == "50000"
