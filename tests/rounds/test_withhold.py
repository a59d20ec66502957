"""The share-release duty (issue 13 finding 4): validators with more than 1/3 of the power that leave one
trainer's shares out of otherwise valid extensions can keep her update sealed, but they can no longer
fine her (the deadline voids and refunds), and her data key proves who withheld, which slashes and, at
the limit, jails them. A trainer cannot frame a validator: once the key is known, every member's
encrypted shares are checked, and sealing garbage to one is the trainer's provable fault."""
import os
from dataclasses import replace

import pytest

from roundsutil import PREPAY, RoundsChain, delta
from sealingutil import validator_public_key
from test_release import next_block, node_keys, votes, window

from chain.bank import keeper as bank
from chain.rounds import keeper, release
from chain.rounds.messages import MsgProveWithholding, MsgSubmitUpdate
from chain.sealing.envelope import seal_context
from chain.sealing.valset import share_plan
from chain.validators import keeper as validators
from chain.tx.address import from_bech32
from chain.validators.keeper import COMMUNITY_POOL
from chainutil import BOB, CAROL, CHAIN_ID
from client.seal import assemble, random_secret, seal_with_key, split
from client.trainer import sealing_set
from registryutil import activate, code, tiny_model, u64, validation

torch = pytest.importorskip("torch")

CENSORS = (0, 1)   # node indices: 20 of 40 power, more than 1/3, so 2/3 cannot be reached without them


@pytest.fixture(scope="module")
def setup():
    _, model = tiny_model()
    _, _, shards = validation(model)
    return model, shards


def make_chain(**validator_params) -> RoundsChain:
    return RoundsChain(validator_params=validator_params)


def submit_keyed(chain, wallet, model_id, update, *, corrupt=()):
    """Seal like the SDK, keeping the data key; entries of sealing-set indices in `corrupt` are garbage."""
    info = chain.query_json("/rounds/round", u64(model_id, 0))
    envelope, key = seal_with_key(update, sealing_set(info), seal_context(CHAIN_ID, model_id, 0, wallet.address_bytes),
                                  max_total_shares=info["max_total_shares"])
    shares = tuple(replace(e, ciphertext=bytes([e.ciphertext[0] ^ 1]) + e.ciphertext[1:])
                   if e.validator_index in corrupt else e for e in envelope.shares)
    msg = MsgSubmitUpdate(model_id=model_id, round=0, parent_version=0, envelope=replace(envelope, shares=shares).encode())
    assert code(chain.run(wallet, msg)[0]) == ("", 0)
    return key


def member_index(chain, model_id, node):
    """The sealing-set index of node `node` (members are ordered by operator address, nodes by key)."""
    info = chain.query_json("/rounds/round", u64(model_id, 0))
    return next(m["index"] for m in info["sealing_set"]
                if bytes.fromhex(m["encryption_pubkey"]) == validator_public_key(node))


def censor(exts, seq):
    """The censors' extensions with every share of submission `seq` left out (still valid extensions)."""
    out = []
    for i, (address, raw) in enumerate(exts):
        if i in CENSORS and raw:
            kept = tuple(s for s in release.decode_release(raw).shares if s.seq != seq)
            raw = release.ShareRelease(shares=kept).encode() if kept else b""
        out.append((address, raw))
    return out


def run_censored_round(chain, model_id):
    """Blocks from the window's end to the release deadline, the censors withholding submission 0's shares."""
    _, end = window(chain, model_id)
    chain.until(end - 1)
    deadline = chain.query_json("/rounds/round", u64(model_id, 0))["release_deadline"]
    results = []
    while chain.height < deadline:
        exts = censor(votes(chain, chain.height + 1), seq=0)
        for address, raw in exts:   # a censor's extension is still one every peer accepts
            assert chain.app.verify_vote_extension(chain.height + 1, address, raw)
        results.append(next_block(chain, exts)[0])
    return results


def test_withhold_censors_cannot_fine_the_victim(setup):
    model, shards = setup
    chain = RoundsChain()
    model_id = activate(chain, model, shards)
    submit_keyed(chain, BOB, model_id, delta(model))
    submit_keyed(chain, CAROL, model_id, delta(model, bump=1))
    bob, pool = bank.balance(chain.app.store, BOB.address_bytes, "ugrad"), bank.balance(chain.app.store, COMMUNITY_POOL, "ugrad")
    results = run_censored_round(chain, model_id)
    bob_events = [e for r in results for e in r.events if e.type.startswith("update_")
                  and dict(e.attributes).get("seq") == "0"]
    # the old rule forfeited her deposit: others' shares reached 2/3, so the chain blamed her sealing
    assert [e.type for e in bob_events] == ["update_void"]
    subs = chain.query_json("/rounds/round", u64(model_id, 0))["submission_list"]
    assert subs[0]["status"] == "void" and subs[0]["reason"] == release.SHORTFALL
    assert bank.balance(chain.app.store, BOB.address_bytes, "ugrad") == bob + 100 + PREPAY
    assert bank.balance(chain.app.store, COMMUNITY_POOL, "ugrad") == pool
    assert "compensation" not in subs[0]   # a sealed update could not have scored: the owner's bond pays nothing


def test_withhold_proof_slashes_and_jails_the_censors(setup):
    model, shards = setup
    chain = make_chain(max_withholdings=1, withhold_slash_bps=100)
    model_id = activate(chain, model, shards)
    bob_key = submit_keyed(chain, BOB, model_id, delta(model))
    submit_keyed(chain, CAROL, model_id, delta(model, bump=1))
    run_censored_round(chain, model_id)
    censors = sorted(member_index(chain, model_id, n) for n in CENSORS)
    info = chain.query_json("/rounds/round", u64(model_id, 0))
    operators = {m["index"]: from_bech32(m["operator"]) for m in info["sealing_set"]}

    def state():
        return dict(chain.app.store.iterate(b"", None))

    # refused, and nothing changes: a wrong key, the opened submission, an unknown one
    before = state()
    wrong = MsgProveWithholding(model_id=model_id, round=0, seq=0, key=os.urandom(32))
    assert code(chain.run(BOB, wrong)[0]) == ("sealing", 9)
    assert code(chain.run(BOB, MsgProveWithholding(model_id=model_id, round=0, seq=1, key=bob_key))[0]) == ("rounds", 20)
    assert code(chain.run(BOB, MsgProveWithholding(model_id=model_id, round=0, seq=7, key=bob_key))[0]) == ("rounds", 6)
    changed = {k for k in set(before) | set(state()) if before.get(k) != state().get(k)}
    assert all(k.startswith((b"auth/", b"bank/b/", b"bank/s/")) for k in changed), changed  # fees and sequences only

    result, block = chain.run(BOB, MsgProveWithholding(model_id=model_id, round=0, seq=0, key=bob_key))
    assert code(result) == ("", 0)
    proved = next(e for e in result.events if e.type == "withholding_proved")
    assert dict(proved.attributes)["withheld_by"] == ",".join(map(str, censors))
    assert [e.type for e in result.events if e.type in ("withholding_penalty", "jail")] == \
        ["withholding_penalty", "jail", "withholding_penalty", "jail"]
    for index in censors:
        v = validators.get(chain.app.store, operators[index])
        assert v.status == "unbonding" and v.bond == 10_000_000 - 100_000
    for index in set(operators) - set(censors):   # the honest members are untouched
        v = validators.get(chain.app.store, operators[index])
        assert v.status == "active" and v.bond == 10_000_000
    assert sorted(u.power for u in block.validator_updates) == [0, 0]
    sub = chain.query_json("/rounds/submission", u64(model_id, 0, 0))
    assert sub["withheld_by"] == censors and sub["key"] == bob_key.hex()
    # once only
    assert code(chain.run(BOB, MsgProveWithholding(model_id=model_id, round=0, seq=0, key=bob_key))[0]) == ("rounds", 20)
    # the counters survive a genesis export
    from chain.genesis import export_genesis
    exported = export_genesis(chain.app.store)["validators"]["withholdings"]
    assert sorted(e["count"] for e in exported) == [1, 1]


def test_withhold_below_the_limit_slashes_without_jailing(setup):
    model, shards = setup
    chain = make_chain(max_withholdings=2, withhold_slash_bps=250)
    model_id = activate(chain, model, shards)
    bob_key = submit_keyed(chain, BOB, model_id, delta(model))
    run_censored_round(chain, model_id)
    result, _ = chain.run(BOB, MsgProveWithholding(model_id=model_id, round=0, seq=0, key=bob_key))
    assert code(result) == ("", 0)
    assert [e.type for e in result.events if e.type == "jail"] == []
    info = chain.query_json("/rounds/round", u64(model_id, 0))
    for node in CENSORS:
        op = from_bech32(next(m["operator"] for m in info["sealing_set"]
                              if m["index"] == member_index(chain, model_id, node)))
        v = validators.get(chain.app.store, op)
        assert v.status == "active" and v.bond == 10_000_000 - 250_000


def test_withhold_framing_a_validator_with_garbage_shares_is_the_trainers_fault(setup):
    """CAROL seals garbage to one member (10 of 40 power): the other three open her update, and the check of
    every member's shares makes it INVALID (the old rule opened it, and that member looked like a withholder)."""
    model, shards = setup
    chain = RoundsChain()
    model_id = activate(chain, model, shards)
    victim = member_index(chain, model_id, 3)
    submit_keyed(chain, CAROL, model_id, delta(model, bump=1), corrupt=(victim,))
    pool = bank.balance(chain.app.store, COMMUNITY_POOL, "ugrad")
    _, end = window(chain, model_id)
    chain.until(end - 1)
    result, _ = next_block(chain, votes(chain, end))
    assert [e.type for e in result.tx_results[0].events] == ["release_shares", "update_invalid"]
    [sub] = chain.query_json("/rounds/round", u64(model_id, 0))["submission_list"]
    assert sub["status"] == "invalid" and sub["reason"] == "sealing/13"
    assert bank.balance(chain.app.store, COMMUNITY_POOL, "ugrad") == pool + 100
    assert keeper.get_update(chain.app.store, model_id, 0, 0) is None   # the plaintext is not kept


def test_withhold_an_ephemeral_key_not_derived_from_the_data_key_is_invalid(setup):
    model, shards = setup
    chain = RoundsChain()
    model_id = activate(chain, model, shards)
    info = chain.query_json("/rounds/round", u64(model_id, 0))
    plan = share_plan(sealing_set(info))
    secret = random_secret(os.urandom)
    envelope = assemble(delta(model), plan, seal_context(CHAIN_ID, model_id, 0, BOB.address_bytes),
                        secret, split(secret, plan, os.urandom), os.urandom(32))
    msg = MsgSubmitUpdate(model_id=model_id, round=0, parent_version=0, envelope=envelope.encode())
    assert code(chain.run(BOB, msg)[0]) == ("", 0)
    _, end = window(chain, model_id)
    chain.until(end - 1)
    next_block(chain, votes(chain, end))
    [sub] = chain.query_json("/rounds/round", u64(model_id, 0))["submission_list"]
    assert sub["status"] == "invalid" and sub["reason"] == "sealing/12"


def test_withhold_proof_fails_when_the_trainer_sealed_badly(setup):
    """Garbage to three of four members: nobody can open it, the deadline refunds it (fault unknown), and the
    trainer's key proves nothing: the check finds her bad shares, and no validator is penalised."""
    model, shards = setup
    chain = RoundsChain()
    model_id = activate(chain, model, shards)
    bad = [member_index(chain, model_id, n) for n in (1, 2, 3)]
    key = submit_keyed(chain, CAROL, model_id, b"carol", corrupt=bad)
    carol = bank.balance(chain.app.store, CAROL.address_bytes, "ugrad")
    _, end = window(chain, model_id)
    chain.until(end - 1)
    exts = votes(chain, end)
    assert sorted(len(release.decode_release(e).shares) for _, e in exts if e) == [1]
    deadline = chain.query_json("/rounds/round", u64(model_id, 0))["release_deadline"]
    next_block(chain, exts)
    chain.until(deadline)
    [sub] = chain.query_json("/rounds/round", u64(model_id, 0))["submission_list"]
    assert sub["status"] == "void"
    assert bank.balance(chain.app.store, CAROL.address_bytes, "ugrad") == carol + 100 + PREPAY
    bonds = [v.bond for v in validators.all_validators(chain.app.store)]
    result, _ = chain.run(CAROL, MsgProveWithholding(model_id=model_id, round=0, seq=0, key=key))
    assert code(result) == ("sealing", 13)
    assert [v.bond for v in validators.all_validators(chain.app.store)] == bonds
