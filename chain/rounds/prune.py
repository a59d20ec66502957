"""Payload pruning (docs/rounds.md, "Payload pruning"). An envelope (rnd/e/, up to max_payload_bytes), its
released shares (rnd/x/) and its opened plaintext (rnd/u/) are needed only while the round runs and, after
a share shortfall, for the withholding proof (chain/rounds/withhold.py). A round that closes or voids is
indexed under rnd/g/ at payload_retention_blocks past both its close and its release deadline
(settle.schedule_prune); from that height on, the end of each block deletes the payloads of at most
max_prunes_per_block submissions, oldest index first, in seq order, and carries the rest over. What stays
forever is small and fixed-size per submission: the record with its envelope and plaintext hashes (and
pruned_height), the rnd/h/ and rnd/p/ duplicate indexes and the per-trainer index. Writes nothing when
nothing is due."""
from __future__ import annotations

from itertools import islice

from chain.results import BlockContext, Event
from chain.rounds import keeper, keys
from chain.rounds import params as rparams


def _due(state, height: int, limit: int) -> list[tuple[int, int, int]]:
    n = len(keys.PRUNE)
    entries = islice(state.iterate(keys.PRUNE, keys.PRUNE + keys.u64(height + 1)), limit)
    return [(int.from_bytes(k[n:n + 8], "big"), int.from_bytes(k[n + 8:n + 16], "big"),
             int.from_bytes(k[n + 16:n + 24], "big")) for k, _ in entries]


def prune_block(state, ctx: BlockContext) -> tuple[Event, ...]:
    budget = rparams.load(state).max_prunes_per_block
    events: list[Event] = []
    # every due round still indexed has at least one unpruned submission, so budget + 1 entries suffice
    for height, model_id, round_ in _due(state, ctx.height, budget + 1):
        pruned = 0
        for sub in keeper.submissions(state, model_id, round_):
            if "pruned_height" in sub:
                continue
            if budget == 0:
                break
            keeper.delete_payloads(state, model_id, round_, sub["seq"])
            keeper.put_submission(state, model_id, round_, {**sub, "pruned_height": ctx.height})
            budget -= 1
            pruned += 1
        else:
            keeper.clear_prune(state, height, model_id, round_)
            record = keeper.get_round(state, model_id, round_)
            keeper.put_round(state, {**record, "pruned_height": ctx.height})
            events.append(Event("payloads_pruned", (("model_id", str(model_id)), ("round", str(round_)),
                                                    ("submissions", str(record["submissions"])))))
            continue
        break   # out of budget: this round carries over to the next block
    return tuple(events)
