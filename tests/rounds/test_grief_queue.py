"""A fair scoring queue (docs/rounds.md, "The scoring queue"): one model's backlog must not hold up another
model's scoring. The block's budget (registry param scoring_work_per_block) is shared round-robin between the
models with pending jobs; within a model, jobs run first in, first out; slices still add up exactly."""
import json

import pytest

import roundsutil  # noqa: F401  (puts tests/registry on the path)
from chain.genesis import export_genesis
from chain.registry import keeper
from chain.rounds.messages import MsgRevealShard
from chain.tx.coins import Coin
from chainutil import ALICE, BOB
from client.model import local_score_shard
from registryutil import RegistryChain, activate, code, tiny_model, u64, validation

torch = pytest.importorskip("torch")

PER_SAMPLE = 64 * 16 + 16 * 10   # 1184 multiply-adds per sample of the digits MLP
BACKLOG = 40                     # copies of model A's job: 40 x 118,400 work, about 95 blocks at 50,000


@pytest.fixture(scope="module")
def setup():
    _, model = tiny_model()
    _, _, shards = validation(model)
    return model, shards


def reveal(model_id, round_, shards, index):
    return MsgRevealShard(model_id=model_id, round=round_, shard=shards.shards[index], shard_index=index,
                          proof=shards.proof(index).encode())


def two_models(setup, **registry_params):
    """Model A (ALICE's) and model B (BOB's), both with round 0 over and revealable."""
    model, shards = setup
    chain = RegistryChain(**registry_params)
    a = activate(chain, model, shards, round_blocks=2, reveal_blocks=10)
    b = activate(chain, model, shards, owner=BOB, round_blocks=2, reveal_blocks=10, bounty=Coin.of("ugrad", 1000))
    chain.until(chain.model(b)["first_round_start"] + 2)
    return chain, a, b


def with_backlog(chain, model_id: int, copies: int) -> RegistryChain:
    """The chain restarted from its genesis export, with `copies` more of model_id's first queued job, all
    enqueued at that job's height (so in FIFO order they come before anything queued later)."""
    exported = json.loads(json.dumps(export_genesis(chain.app.store)))
    section = exported["rounds"]
    first = next(j for j in section["jobs"] if j["model_id"] == model_id)
    seq = section["next_job_seq"]
    section["jobs"] += [{**first, "seq": seq + i} for i in range(copies)]
    section["next_job_seq"] = seq + copies
    return RegistryChain(app_state=exported)


def queued(chain, model_id: int) -> int:
    return sum(1 for j in chain.query_json("/rounds/queue")["jobs"] if j["model_id"] == model_id)


def test_grief_one_models_backlog_does_not_delay_another_models_job(setup):
    model, shards = setup
    chain, a, b = two_models(setup)
    assert code(chain.run(ALICE, reveal(a, 0, shards, 0))[0]) == ("", 0)   # A's job, then B's, a block later
    assert code(chain.run(BOB, reveal(b, 0, shards, 1))[0]) == ("", 0)
    chain = with_backlog(chain, a, BACKLOG)
    assert queued(chain, a) >= BACKLOG - 1 and queued(chain, b) == 1   # the restart's first block scored too
    # budget 50,000 split between two models: 21 samples (24,864) each per block; B's 100 samples take 5
    # blocks, two of which ran before and right after the restart. In FIFO order B waited about 95 blocks.
    for blocks in range(1, 8):
        result = chain.block([])
        if keeper.get_score(chain.app.store, b, 0, 0) is not None:
            break
    assert blocks <= 3, f"B's single job waited {blocks} more blocks"
    assert queued(chain, b) == 0 and queued(chain, a) > BACKLOG - 5   # A still has almost all of its backlog
    score = keeper.get_score(chain.app.store, b, 0, 0)
    expected = local_score_shard(model, shards.shards[1])             # slices add up exactly
    assert (score["correct"], score["total"], int(score["loss"])) == (expected.correct, expected.total, expected.loss)
    scored = [dict(e.attributes) for e in result.events if e.type == "scored"]
    assert str(b) in [s["model_id"] for s in scored]


def test_grief_round_robin_turns_alternate_when_one_sample_exceeds_the_budget(setup):
    """Budget 1000 < one sample (1184): each block runs one sample alone, and the turn passes to the next
    model with jobs, wrapping, so neither model waits for the other's whole job."""
    model, shards = setup
    chain, a, b = two_models(setup, scoring_work_per_block=1000)
    txs = [chain.sign(ALICE, reveal(a, 0, shards, 0)), chain.sign(BOB, reveal(b, 0, shards, 1))]
    served = []
    for block in [chain.block(txs), *[chain.block([]) for _ in range(5)]]:
        progress = [dict(e.attributes) for e in block.events if e.type == "scoring_progress"]
        assert len(progress) == 1
        served.append((int(progress[0]["model_id"]), int(progress[0]["done"])))
    assert served == [(a, 1), (b, 1), (a, 2), (b, 2), (a, 3), (b, 3)]
    assert chain.query_json("/rounds/queue")["last_served_model"] == b


def test_grief_fair_share_leftover_goes_to_the_models_that_still_have_work(setup):
    """A single model gets the whole budget, as before; two share it; a model that needs less than its share
    leaves the rest of the block to the others (the queue is work-conserving)."""
    model, shards = setup
    chain, a, b = two_models(setup)

    def progress():
        return {j["model_id"]: j["done"] for j in chain.query_json("/rounds/queue")["jobs"]}

    assert code(chain.run(ALICE, reveal(a, 0, shards, 0))[0]) == ("", 0)
    assert progress() == {a: 42}                       # alone: 42 samples of 1184 fit in 50,000
    assert code(chain.run(BOB, reveal(b, 0, shards, 1))[0]) == ("", 0)
    assert progress() == {a: 63, b: 21}                # shared: 25,000 each, 21 samples
    chain.block([])
    assert progress() == {a: 84, b: 42}
    block = chain.block([])                            # A needs 16 samples; B takes its 21 and then 5 of the rest
    assert progress() == {b: 68}
    assert [dict(e.attributes)["model_id"] for e in block.events if e.type == "scored"] == [str(a)]
    chain.block([])
    assert progress() == {}
    for model_id, index in ((a, 0), (b, 1)):
        score, expected = keeper.get_score(chain.app.store, model_id, 0, 0), local_score_shard(model, shards.shards[index])
        assert (score["correct"], score["total"], int(score["loss"])) == (expected.correct, expected.total,
                                                                         expected.loss)
