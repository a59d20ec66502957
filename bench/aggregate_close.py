"""An aggregate-mode round close against an open-mode round close, in process: same chain, same model,
same trainers' updates (bench/round_close.py's helpers: 4 validators of power 10, the digits MLP 64-32-10,
its 500-sample shards, N Adam-fine-tuned deltas, the local testnet's scoring budget; FinalizeBlock +
Commit timed, vote extensions and PrepareProposal/ProcessProposal as abci_app/server.py calls them).

Open mode (bench/round_close.py's cost_run): the N sealed updates in the window's first block; the
window's end; block round_end + 1 carries the release tx and opens all N; the owner's reveal a block
later queues head + N update jobs (+ their FedAvg aggregate); the close.

Aggregate mode (privacy "aggregate", cohort_size k = 5): the N members join in the window's first block
(MsgJoinRound: round public key, round key and self seed sealed to the 4 validators); the join close cuts
them into cohorts of k..2k-1 (N = 10: 2 cohorts, N = 50: 10); each submits its update masked
(MsgSubmitMasked, 8 bytes per parameter) in the first block after the join close; the window's last block
marks each member's self seed for release; the validators' precommits for block round_end carry the seed
shares, block round_end + 1 carries them (one release tx), reconstructs every seed, unmasks each cohort
and stores its mean as one OPENED submission; the owner's reveal a block later queues head + N/k cohort
means (+ the aggregate of the improving ones); the close.

Measured for each mode, from the window's end (block round_end, the first after the window) to the close
inclusive: the number of blocks and their summed FinalizeBlock + Commit wall time; each block's role and
time; the blocks before (the submit block in open mode; the join, masked and resolve blocks in aggregate
mode) are printed for reference, not counted. The ratio lines are medians over the runs of
aggregate end..close / open end..close, each pair measured back to back. The genesis is round_close.py's:
max_submissions_per_round 64 (joins count against it), so up to 50 trainers fit.

    .venv/bin/python bench/aggregate_close.py            # N = 10, 50; 11 runs each (about 16 s)
    .venv/bin/python bench/aggregate_close.py --quick    # N = 10, 50; 3 runs each (about 7 s)
"""
from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import round_close as rc  # noqa: E402  (puts the repository on the path, wraps the chain's timers)

import numpy as np  # noqa: E402

import chain.rounds.aggregate_mode as aggregate_mode  # noqa: E402
import chain.rounds.unmask as unmask  # noqa: E402
from chain.rounds.delta import decode_delta  # noqa: E402
from chain.rounds.messages import MsgJoinRound, MsgSubmitMasked  # noqa: E402
from chain.secagg import masks  # noqa: E402
from client.secagg import encode_masked, join_envelopes, masked_update, new_member, secret_contexts  # noqa: E402
from client.trainer import sealing_set  # noqa: E402

K = 5
rc.PROBE.wrap(unmask, "try_unmask", "unmask")                  # inside the release: seeds rebuilt, masks removed
rc.PROBE.wrap(aggregate_mode, "end_block", "aggregate.end")     # cohorts formed / releases marked


def _member(i: int):
    """A member's round key and self seed, deterministic per trainer (the bench reruns the same round)."""
    stream = iter(hashlib.sha256(f"aggregate-close bench member {i} {j}".encode()).digest() for j in range(2))
    return new_member(random_bytes=lambda n: next(stream)[:n])


def aggregate_run(data: rc.Data, n: int, kv_kind: str, budget: int) -> dict:
    with rc.new_kv(kv_kind) as kv:
        chain = rc.BenchChain(kv, rc.genesis(budget))
        model_id = rc.register(chain, data, rc.R_COST, rc.V_COST, privacy="aggregate", cohort_size=K)
        info = chain.round_info(model_id, 0)
        start, join_end, end = info["window_start"], info["join_end"], info["window_end"]
        trainers = rc.TRAINERS[:n]
        members = [_member(i) for i in range(n)]
        chain.until(start - 1, "wait")
        vals = sealing_set(info)
        joins = []
        for t, m in zip(trainers, members):
            key_env, seed_env = join_envelopes(m, vals, secret_contexts(rc.CHAIN_ID, model_id, 0, t.address_bytes),
                                               max_total_shares=info["max_total_shares"])
            joins.append(chain.sign(t, MsgJoinRound(model_id=model_id, round=0, parent_version=0,
                                                    round_pubkey=m.round_public, key_envelope=key_env.encode(),
                                                    seed_envelope=seed_env.encode())))
        chain.block(joins, "join")
        chain.until(join_end - 1, "wait")      # block join_end - 1 forms the cohorts
        info = chain.round_info(model_id, 0)
        seq_of = {m["member"]: m["seq"] for m in info["member_list"]}
        cohort_of = {m["seq"]: m["cohort"] for m in info["member_list"]}
        cohorts = {c["cohort"]: c["members"] for c in info["cohort_list"]}
        pub = {m["seq"]: bytes.fromhex(m["round_pubkey"]) for m in info["member_list"]}
        masked = []
        for t, m, update in zip(trainers, members, data.updates[:n]):
            seq = seq_of[t.address]
            c = cohort_of[seq]
            y = masked_update(m, seq, {s: pub[s] for s in cohorts[c]}, masks.context(rc.CHAIN_ID, model_id, 0, c),
                              decode_delta(update))
            masked.append(chain.sign(t, MsgSubmitMasked(model_id=model_id, round=0, masked=encode_masked(y))))
        chain.block(masked, "masked")
        chain.until(end - 2, "empty")
        chain.block([], "resolve")            # block end - 1: each cohort's seeds marked for release
        exts, _ = chain.votes(end)
        chain.block([], "end")
        releases = 0
        while True:                           # one release tx holds them all here; loop in case it does not
            txs, _ = chain.proposal(exts, [])
            assert rc.release.is_release(txs[0])
            chain.block(txs, "open")
            releases += 1
            cohort_list = chain.round_info(model_id, 0)["cohort_list"]
            if all(c["status"] == "unmasked" for c in cohort_list):
                break
            assert releases < 10, cohort_list
            exts, _ = chain.votes(chain.height)
        chain.block([rc.reveal_tx(chain, data, model_id, 0, 0)], "reveal")
        while not rc.has_event(chain.blocks[-1], "round_closed"):
            assert chain.height < end + 1000, "the round did not close"
            chain.block([], "score")
        chain.blocks[-1].role = "close"
        record = chain.round_info(model_id, 0)
        chain.close()
    assert len(record["submission_list"]) == len(cohorts) and all(s["status"] == "opened" or "outcome" in s
                                                                  for s in record["submission_list"])
    return summarize(chain.blocks, end, record, cohorts=len(cohorts), releases=releases)


def summarize(blocks, end: int, record: dict, **extra) -> dict:
    window = [b for b in blocks if b.height >= end]
    return {"blocks": len(window), "time": sum(b.total for b in window), "roles": [(b.role, b.total) for b in window],
            "before": [(b.role, b.total, b.parts) for b in blocks if b.role in ("submit", "join", "masked", "resolve")],
            "parts": {k: sum(b.parts.get(k, 0.0) for b in window)
                      for k in ("release", "unmask", "release.check", "release.reconstruct", "scoring", "kernel")},
            "empty": statistics.median(b.total for b in blocks if b.role == "empty"),
            "jobs": 1 + len(record["submission_list"]) + int(bool(record.get("aggregate"))),
            "new_version": record.get("new_version"), **extra}


def open_run(data: rc.Data, n: int, kv_kind: str, budget: int) -> dict:
    run = rc.cost_run(data, n, kv_kind, budget)
    end = next(b.height for b in run["blocks"] if b.role == "end")
    for b in run["blocks"]:
        if b.role in ("reveal+close",):
            b.role = "close"
    return summarize(run["blocks"], end, run["record"])


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="3 runs per count")
    ap.add_argument("--updates", type=int, nargs="+", default=[10, 50])
    ap.add_argument("--repeats", type=int, default=None, help="runs per count (default 11, quick 3)")
    ap.add_argument("--kv", choices=("leveldb", "memory"), default="leveldb")
    ap.add_argument("--budget", type=int, default=rc.LOCAL_BUDGET, help="scoring_work_per_block")
    args = ap.parse_args()
    ns = args.updates
    if max(ns) > rc.MAX_UPDATES or min(ns) < K:
        ap.error(f"between {K} and {rc.MAX_UPDATES} trainers")
    repeats = args.repeats or (3 if args.quick else 11)
    t0 = time.perf_counter()
    rc.torch.set_num_threads(1)
    data = rc.make_data(max(ns), 500)
    from threadpoolctl import threadpool_limits
    limits = threadpool_limits(limits=1, user_api="blas")  # noqa: F841 (held for the run; as round_close.py)
    params = sum(w.size for w in data.head.weights)
    print(f"aggregate vs open round close: python {sys.version.split()[0]}, numpy {np.__version__}, "
          f"{os.cpu_count()} CPUs; model 64-32-10 ({params:,} parameters; sealed update {len(data.updates[0]):,} "
          f"bytes, masked {8 * params:,}), 4 validators x power 10, k = {K}, {args.kv} store; "
          f"{max(ns)} updates trained in {time.perf_counter() - t0:.1f} s")
    open_run(data, 3, args.kv, args.budget)           # warm-up, discarded (the first kernel call pays ~0.4 s)
    aggregate_run(data, K, args.kv, args.budget)
    runs = {n: {"open": [], "aggregate": []} for n in ns}
    for rep in range(repeats):
        for n in (ns if rep % 2 == 0 else ns[::-1]):
            pair = [("open", open_run), ("aggregate", aggregate_run)]
            for mode, fn in (pair if rep % 2 == 0 else pair[::-1]):
                runs[n][mode].append(fn(data, n, args.kv, args.budget))

    print(f"\nfrom the window's end (block round_end) to the close, FinalizeBlock + Commit; medians of {repeats} run(s)")
    print(f"  {'N':>3} {'mode':>9} | {'blocks':>6} {'ms':>8} {'x empty':>8} | {'jobs':>4} {'release':>8} "
          f"{'shares':>7} {'unmask':>7} {'scoring':>8} | blocks (role ms)")
    ratios = {}
    for n in ns:
        for mode in ("open", "aggregate"):
            rs = runs[n][mode]
            med = lambda f: statistics.median(f(r) for r in rs)  # noqa: E731
            first = rs[0]
            roles = " ".join(f"{role}={ms(statistics.median(r['roles'][i][1] for r in rs))}"
                             for i, (role, _) in enumerate(first["roles"]))
            print(f"  {n:>3} {mode:>9} | {first['blocks']:>6} {ms(med(lambda r: r['time'])):>8} "
                  f"{med(lambda r: r['time'] / r['empty']):>7.1f}x | {first['jobs']:>4} "
                  f"{ms(med(lambda r: r['parts']['release'])):>8} {ms(med(lambda r: r['parts']['release.check'])):>7} "
                  f"{ms(med(lambda r: r['parts']['unmask'])):>7} "
                  f"{ms(med(lambda r: r['parts']['scoring'])):>8} | {roles}")
            assert all(r["blocks"] == first["blocks"] for r in rs), "block counts differ between runs"
        ratios[n] = statistics.median(a["time"] / o["time"] for a, o in zip(runs[n]["aggregate"], runs[n]["open"]))
    print("  jobs = scoring jobs (head + updates or cohort means + the FedAvg aggregate of the improving ones);"
          "\n  release = the release tx's FinalizeBlock step; inside it, shares = every share checked against "
          "its\n  commitment, unmask = the seeds rebuilt and opened, the masks removed, the means stored;"
          "\n  scoring = the scoring queue's step; x empty = end..close over the median empty window block.")
    print("\nbefore the window's end (not counted above), ms, first run:")
    for n in ns:
        for mode in ("open", "aggregate"):
            cells = " ".join(f"{role}={ms(t)}" for role, t, _ in runs[n][mode][0]["before"])
            print(f"  {n:>3} {mode:>9} | {cells}")
    for n in ns:
        a, o = runs[n]["aggregate"][0], runs[n]["open"][0]
        print(f"  N = {n}: aggregate {a['cohorts']} cohorts, {a['releases']} release block(s), "
              f"new head {a['new_version']}; open new head {o['new_version']}")
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    for n in ns:
        print(f"ratio aggregate_vs_open_close_{n} {ratios[n]:.2f}")


if __name__ == "__main__":
    main()
