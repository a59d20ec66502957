"""Wall time of one federated-training demo round on a real local 4-validator testnet, split into the
trainer's phases and the chain's, with the SDK's overhead as a ratio to the local training time.

Starts 4 validators on loopback (abci_app.testnet, like tests/integration/test_federated_demo.py, ports
from abci_app.ports.free_port_base; `timeout_commit` 300 ms by default, the integration test's value:
config/local.toml's own is 1 s, pass `--timeout-commit 1s` for it), registers scripts/demo_training.py's
model with the demo's terms (its owner model, 100-sample hidden shards, deposit, bounty, curve, 10-block
rounds and reveal windows, max_regression), funds the demo's 4 trainers (skewed digits splits, trainer 4
flipping its labels) and plays N rounds with the owner's auto_reveal running. The 4 trainers work in
parallel threads of this process as in the demo, each with its own connection to a different node; with
--serial-compute they take turns from the head pull to the sealed envelope (as if each had its own
machine), their submissions still overlapping. Every trainer, every round, does what
Trainer.train_and_submit does, one step at a time, timed with the wall clock:

  head     pull the head: the /registry/model query, client.training.head_model (model, spec, params,
           versions and weight queries, hash checks) and client.model.from_chain (the torch net)
  train    the demo's own loop, demo_training.fit (full-batch Adam, --epochs, 40 as in the demo)
  delta    client.trainer.delta_from_torch: quantize the trained net and take the delta to the head
  seal     Trainer.seal: the /rounds/round query and client.seal.seal to the round's sealing set
  submit   Client.submit of the MsgSubmitUpdate: sign, broadcast_tx_sync, poll `tx` (every 0.2 s, the
           SDK's loop) until the tx is in a block and its result is known (submission to inclusion)

Then each trainer waits for its verdict (Trainer.wait_for_result, 0.5 s polls). The chain's part is read
from the chain's own records, not from client polling: the submission's opened_height, its score's height
and settled_height (the round's close: new head, deposits, and the payout of the previous round's head,
which this round's fresh shard confirms; docs/rounds.md "Closing a round"), the round's reveal height, the
round record's paid_height (when its own new head was paid: at a later round's close, so not for the last
round), and the window's end (round_end - 1, the window's last height). A height h becomes a time through
the header of block h+1 (RPC `block`): its BFT time is the median of the validators' precommit times for
h, i.e. when h was committed. So "window end -> opened" is time(opened_height) - time(window's last height), in seconds
and in blocks. The block interval is the mean header-time spacing over all the heights the rounds spanned,
in the same run. The round's timeline mixes the client's wall clock (time.time) with header times: one
machine, one clock.

The baseline, also in the same run: after each round (outside its timing), each trainer's `fit` alone,
one trainer at a time, on the new head. Prints per-phase medians over all trainer-rounds (4 x N), the
block interval, each phase in block intervals, the round's timeline, and the RATIO of the SDK time (head +
delta + seal + submit) to the local training time (median of per-trainer-round ratios), also against the
training-alone baseline.

    .venv/bin/python bench/demo_round.py                     # 3 rounds, trainers all at once (as the demo)
    .venv/bin/python bench/demo_round.py --serial-compute    # trainers take turns until sealed
    .venv/bin/python bench/demo_round.py --quick             # 2 rounds
"""
from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import threading
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests"))

import demo_training as demo  # noqa: E402
from abci_app.ports import free_port_base  # noqa: E402
from abci_app.testnet import MANIFEST, init_testnet, start_testnet, stop_testnet  # noqa: E402
from chain.codec import u64  # noqa: E402
from chain.rounds.messages import MsgSubmitUpdate  # noqa: E402
from client import Client  # noqa: E402
from client.model import from_chain  # noqa: E402
from client.owner import Owner, round_end  # noqa: E402
from client.trainer import Trainer, delta_from_torch, submitted  # noqa: E402
from client.training import head_model  # noqa: E402
from client.wallet import Wallet  # noqa: E402
from nodeutil import wait_for_height  # noqa: E402

OPERATORS = [Wallet.from_seed(bytes([0x70 + i]) * 32) for i in range(4)]
FAUCET = Wallet.from_seed(b"\x7f" * 32)
CLIENT_PHASES = ("head", "train", "delta", "seal", "submit")
SDK_PHASES = ("head", "delta", "seal", "submit")


def register(chain: Client, owner: Owner, data, rounds: int, round_blocks: int):
    """The demo's registration (scripts/demo_training.py run()), with the same terms."""
    return owner.register(demo.owner_model(data), data.X_val, data.y_val, shard_size=demo.SHARD,
                          bounty=f"{demo.BOUNTY}uusdc", bond="5000000ugrad", deposit=f"{demo.DEPOSIT}ugrad",
                          target_score=950_000, min_improvement=10_000, max_regression=100_000,
                          reward_curve=((0, 0), (5000, 7000), (10_000, 10_000)),
                          expiry_blocks=round_blocks * (rounds + 4) * 3, round_blocks=round_blocks,
                          reveal_blocks=round_blocks, progress=False)


def trainer_data(data, k: int):
    X, y = data.X_train[data.parts[k]], data.y_train[data.parts[k]]
    return (X, (y + 1) % 10) if k == demo.POISONER else (X, y)


def one_trainer(trainer: Trainer, model_id: int, round_: int, X, y, epochs: int, compute_lock) -> dict:
    """Trainer.train_and_submit's steps, each timed (wall clock). `compute_lock` is held from the head pull
    to the sealed envelope (a real lock with --serial-compute, a no-op otherwise)."""
    with compute_lock:
        t0 = time.perf_counter()
        record = trainer.client.query_json("/registry/model", u64(model_id))
        head = head_model(trainer.client, model_id)
        net = from_chain(head).float()
        t1 = time.perf_counter()
        net = demo.fit(net, X, y, epochs)
        t2 = time.perf_counter()
        update = delta_from_torch(head, net)
        t3 = time.perf_counter()
        envelope = trainer.seal(model_id, round_, update)
        t4 = time.perf_counter()
    before = trainer.client.rpc.latest_height()           # untimed: the height the tx was sent at
    sent_at = time.time()
    t5 = time.perf_counter()
    msg = MsgSubmitUpdate(model_id=model_id, round=round_, parent_version=record["head_version"],
                          envelope=envelope.encode())
    sub = submitted(trainer.client.submit(trainer.wallet, [msg]))
    t6 = time.perf_counter()
    times = {"head": t1 - t0, "train": t2 - t1, "delta": t3 - t2, "seal": t4 - t3, "submit": t6 - t5}
    return {"times": times, "sub": sub, "sent_height": before, "sent_at": sent_at, "update_bytes": len(update),
            "envelope_bytes": len(msg.envelope)}


def pick_round(chain: Client, model_id: int) -> int:
    """As the demo's _one_round: the open round, or the next one if fewer than 4 blocks are left."""
    record = chain.query_json("/registry/model", u64(model_id))
    round_ = record["current_round"]
    end = round_end(record, round_)
    if end - chain.rpc.latest_height() < 4:
        round_ += 1
        chain.rpc.wait_for_height(end - 1, timeout=120)
    return round_


class Headers:
    """Block header times by height, from RPC `block`."""

    def __init__(self, chain: Client):
        self.chain, self.cache = chain, {}

    def time(self, height: int) -> float:
        if height not in self.cache:
            stamp = self.chain.rpc.call("block", height=str(height))["block"]["header"]["time"]
            self.cache[height] = _rfc3339(stamp)
        return self.cache[height]

    def committed(self, height: int) -> float:
        """When block `height` was committed: the BFT time in the header of height + 1."""
        return self.time(height + 1)


def _rfc3339(stamp: str) -> float:
    main, _, frac = stamp.rstrip("Z").partition(".")
    return datetime.fromisoformat(main + "+00:00").timestamp() + (float("0." + frac) if frac else 0.0)


def torch_threads() -> int:
    import torch
    return torch.get_num_threads()


def med(values) -> float:
    values = list(values)
    return statistics.median(values) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="2 rounds")
    parser.add_argument("--timeout-commit", default="300ms")
    parser.add_argument("--epochs", type=int, default=40, help="local training epochs (the demo's 40)")
    parser.add_argument("--round-blocks", type=int, default=10, help="the demo's 10")
    parser.add_argument("--serial-compute", action="store_true",
                        help="one trainer at a time from head pull to sealed envelope (as if each had its own "
                             "machine); submissions still overlap. Default: all 4 at once, as in the demo")
    parser.add_argument("--rows", action="store_true", help="print every trainer-round")
    args = parser.parse_args()
    rounds = 2 if args.quick else args.rounds

    data = demo.load_data()
    parts = [trainer_data(data, k) for k in range(len(demo.FAVOURITES))]
    demo.fit(demo.owner_model(data), *parts[0], 2)      # warm-up: torch's first calls

    preset = tomllib.loads((ROOT / "config/local.toml").read_text())
    with tempfile.TemporaryDirectory(prefix="bench-demo-round-") as tmp:
        home = Path(tmp)
        try:
            manifest = init_testnet(home, 4, "bench-demo-1", preset, [w.address_bytes for w in OPERATORS],
                                    FAUCET.address_bytes, port_base=free_port_base(60),
                                    timeout_commit=args.timeout_commit)
            urls = [f"http://127.0.0.1:{n['rpc']}" for n in manifest["nodes"]]
            start_testnet(home)
            for url in urls:
                wait_for_height(url, 2, timeout=90)
            rows, per_round, block, solo = run(urls, data, parts, rounds, args)
        finally:
            if (home / MANIFEST).exists():
                stop_testnet(home)
    report(rows, per_round, block, solo, args, rounds)


def run(urls, data, parts, rounds: int, args):
    with Client(urls[0]) as chain:
        owner = Owner(chain, FAUCET)
        reg = register(chain, owner, data, rounds, args.round_blocks)
        model_id = reg.model_id
        wallets = [Wallet.generate() for _ in parts]
        for w in wallets:
            chain.send(FAUCET, w.address, {"ugrad": 2_000_000})
        clients = [Client(urls[k % len(urls)]) for k in range(len(wallets))]   # trainers on different nodes
        trainers = [Trainer(c, w) for c, w in zip(clients, wallets)]
        rows, per_round, solo = [], [], []
        lock = threading.Lock() if args.serial_compute else contextlib.nullcontext()
        try:
            with owner.auto_reveal(model_id, reg.shards), ThreadPoolExecutor(len(trainers)) as pool:
                for _ in range(rounds):
                    round_ = pick_round(chain, model_id)
                    t0, started = time.perf_counter(), time.time()
                    done = list(pool.map(lambda k: one_trainer(trainers[k], model_id, round_, *parts[k],
                                                               args.epochs, lock), range(len(trainers))))
                    results = list(pool.map(lambda k: trainers[k].wait_for_result(done[k]["sub"], timeout=300,
                                                                                   progress=False),
                                            range(len(trainers))))
                    wall = time.perf_counter() - t0
                    for k, (d, r) in enumerate(zip(done, results)):
                        rows.append({**d, "trainer": k, "round": round_, "result": r})
                    per_round.append({"round": round_, "wall": wall, "started": started, "seen": started + wall})
                    # the baseline in the same run: each trainer's fit of this round's head, alone (one
                    # trainer at a time, nothing else in this process), after the round
                    for k in range(len(trainers)):
                        net = from_chain(head_model(chain, model_id)).float()
                        t1 = time.perf_counter()
                        demo.fit(net, *parts[k], args.epochs)
                        solo.append(time.perf_counter() - t1)
                    print(f"round {round_}: {wall:.1f} s wall (head pull -> every trainer's result seen); "
                          + ", ".join(f"t{k + 1} {r.get('outcome', r['status'])}" for k, r in enumerate(results)),
                          flush=True)
            block = chain_side(chain, model_id, rows, per_round)
        finally:
            for c in clients:
                c.close()
    return rows, per_round, block, solo


def chain_side(chain: Client, model_id: int, rows: list, per_round: list) -> dict:
    """Heights from the chain's records, times from block headers."""
    record = chain.query_json("/registry/model", u64(model_id))
    revealed = {r["round"]: r for r in record.get("rounds", [])}
    info = {p["round"]: chain.query_json("/rounds/round", u64(model_id, p["round"])) for p in per_round}
    top = max(info[p["round"]]["closed_height"] for p in per_round) + 1
    chain.rpc.wait_for_height(top, timeout=60)
    headers = Headers(chain)
    for p in per_round:
        r = p["round"]
        p["end"] = round_end(record, r) - 1                  # the window's last height
        p["reveal"] = revealed[r]["revealed_height"]
        p["closed"] = info[r]["closed_height"]
        p["aggregate"] = bool(info[r].get("aggregate"))
        # this round's new head is paid at a later round's close (paid_height; none yet for the last round),
        # and this round's close pays the previous round's pending head, if any (confirmed_round == r)
        p["paid_height"] = info[r].get("paid_height")
        p["new_head"] = info[r].get("new_version") is not None
        p["confirms"] = any(info[q].get("confirmed_round") == r for q in info)
        mine = [row for row in rows if row["round"] == r]
        # the round's timeline: wall clock (time.time) on the client, BFT header times on the chain; one
        # machine, one clock
        marks = [("client phases, last trainer's tx committed",
                  max(headers.committed(row["sub"].receipt.height) for row in mine)),
                 ("waiting for the window to end", headers.committed(p["end"])),
                 ("window end -> updates opened", max(headers.committed(row["result"]["opened_height"])
                                                      for row in mine)),
                 ("opened -> scored", max(headers.committed(row["result"]["score"]["height"]) for row in mine
                                          if row["result"].get("score"))),
                 ("scored -> round closed", headers.committed(p["closed"])),
                 ("closed -> seen by the SDK's poll", p["seen"])]
        at, p["timeline"] = p["started"], []
        for label, t in marks:
            p["timeline"].append((label, t - at))
            at = t
    for p in per_round:
        if p["paid_height"] is not None:
            p["paid"] = (headers.committed(p["paid_height"]) - headers.committed(p["end"]), p["paid_height"] - p["end"])
    for row in rows:
        p = next(q for q in per_round if q["round"] == row["round"])
        sub = row["result"]
        end = p["end"]
        row["heights"] = {"included": row["sub"].receipt.height, "end": end, "reveal": p["reveal"],
                          "opened": sub.get("opened_height"), "scored": (sub.get("score") or {}).get("height"),
                          "closed": sub.get("settled_height", p["closed"])}
        t_end = headers.committed(end)
        row["chain"] = {k: (headers.committed(h) - t_end, h - end) for k, h in row["heights"].items()
                        if k in ("reveal", "opened", "scored", "closed") and h is not None}
        row["inclusion_chain"] = headers.committed(row["sub"].receipt.height) - row["sent_at"]
        row["inclusion_blocks"] = row["sub"].receipt.height - row["sent_height"]
    low = min(row["sent_height"] for row in rows)
    high = max(p["closed"] for p in per_round) + 1
    interval = (headers.time(high) - headers.time(low)) / (high - low)
    spacing = [headers.time(h + 1) - headers.time(h) for h in range(low, high)]
    return {"interval": interval, "blocks": high - low, "p50": med(spacing),
            "p95": sorted(spacing)[int(0.95 * (len(spacing) - 1))]}


def report(rows, per_round, block, solo, args, rounds: int) -> None:
    interval = block["interval"]
    mode = "one at a time from head pull to seal" if args.serial_compute else "all at once"
    print(f"\n4 validators on loopback, timeout_commit {args.timeout_commit}, round_blocks {args.round_blocks}, "
          f"{rounds} rounds x 4 trainers ({mode}), {args.epochs} epochs, torch threads {torch_threads()}; "
          f"update {rows[0]['update_bytes']} B, sealed envelope {rows[0]['envelope_bytes']} B")
    print(f"block interval (same run, header times over {block['blocks']} blocks): mean {interval * 1000:.0f} ms, "
          f"p50 {block['p50'] * 1000:.0f} ms, p95 {block['p95'] * 1000:.0f} ms")
    if args.rows:
        for row in rows:
            t = row["times"]
            print(f"  round {row['round']} t{row['trainer'] + 1}: " + " ".join(f"{k} {t[k] * 1000:.0f}ms"
                                                                          for k in CLIENT_PHASES)
                  + f" | heights {row['heights']}")
        for p in per_round:
            paid = (f"paid at {p['paid_height']} (+{p['paid'][1]})" if p["paid_height"] is not None
                    else "pending" if p["new_head"] else "none")
            print(f"  round {p['round']}: window end {p['end']}, closed {p['closed']} (+{p['closed'] - p['end']}; "
                  f"aggregate {'yes' if p['aggregate'] else 'no'}, paid the previous head "
                  f"{'yes' if p['confirms'] else 'no'}); its own new head: {paid}")
    print(f"\n{'phase (median of ' + str(len(rows)) + ')':<44} {'seconds':>8} {'blocks':>7} {'x block interval':>17}")
    for k in CLIENT_PHASES:
        s = med(r["times"][k] for r in rows)
        blocks = f"{med(r['inclusion_blocks'] for r in rows):g}" if k == "submit" else ""
        label = {"head": "pull head (queries + torch net)", "train": "local training (the demo's fit)",
                 "delta": "delta + quantization", "seal": "sealing (Trainer.seal)",
                 "submit": "submission -> inclusion (SDK poll)"}[k]
        print(f"  {label:<42} {s:8.3f} {blocks:>7} {s / interval:17.2f}")
    s = med(r["inclusion_chain"] for r in rows)
    print(f"  {'submission -> commit (header time)':<42} {s:8.3f} {'':>7} {s / interval:17.2f}")
    for k, label in (("reveal", "window end -> owner's reveal committed"), ("opened", "window end -> update opened"),
                     ("scored", "window end -> update scored"), ("closed", "window end -> round closed")):
        vals = [r["chain"][k] for r in rows if k in r["chain"]]
        s, b = med(v[0] for v in vals), med(v[1] for v in vals)
        print(f"  {label:<42} {s:8.3f} {b:7g} {s / interval:17.2f}")
    paid = [p["paid"] for p in per_round if "paid" in p]
    if paid:
        s, b = med(v[0] for v in paid), med(v[1] for v in paid)
        print(f"  {'window end -> its head paid (later close)':<42} {s:8.3f} {b:7g} {s / interval:17.2f}"
              f"   (median of {len(paid)} round(s))")
    print("  round closed = new head (if any), deposits, and the payout of the previous round's head, if one is "
          "pending;\n  a round's own head is paid at the close of the next round with submissions (paid_height), "
          "so the\n  last round's head is still pending when the run ends")
    walls = [p["wall"] for p in per_round]
    print(f"\none round, wall clock (median of {len(per_round)} rounds): {med(walls):.2f} s = "
          f"{med(walls) / interval:.1f} block intervals, from the head pull to every trainer's result seen")
    for i, (label, _) in enumerate(per_round[0]["timeline"]):
        s = med(p["timeline"][i][1] for p in per_round)
        print(f"  {label:<42} {s:8.3f} s {s / interval:6.2f} blocks")
    sdk = [sum(r["times"][k] for k in SDK_PHASES) for r in rows]
    ratios = [sum(r["times"][k] for k in SDK_PHASES) / r["times"]["train"] for r in rows]
    train = med(r["times"]["train"] for r in rows)
    print(f"\nSDK time (head + delta + seal + submit): median {med(sdk):.3f} s; "
          f"RATIO SDK / local training = {med(ratios):.2f} (median of per-trainer-round ratios; "
          f"range {min(ratios):.2f}-{max(ratios):.2f})")
    without = [sum(r["times"][k] for k in ("head", "delta", "seal")) / r["times"]["train"] for r in rows]
    print(f"  ratio of the medians: {med(sdk) / train:.2f}; without submission (head + delta + seal) / training "
          f"= {med(without):.2f}")
    print(f"  baseline, training alone (each trainer's fit after each round, one at a time): median "
          f"{med(solo):.3f} s; in the rounds / alone = {train / med(solo):.2f}; "
          f"SDK / training-alone = {med(sdk) / med(solo):.2f}")
    print(f"  aggregate scored before the close in {sum(p['aggregate'] for p in per_round)}/{len(per_round)} rounds; "
          f"the close paid the previous round's head in {sum(p['confirms'] for p in per_round)}/{len(per_round)} "
          "(its replaced version is scored on the round's shard first)")


if __name__ == "__main__":
    main()
