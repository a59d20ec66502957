"""Committed signed transfers per second, one gradchain node, ABCI over gRPC vs over the socket.

Both runs are the same node (`python -m abci_app.node`, the same genesis, config and load as
bench/throughput.py: pre-signed transfers from funded senders, sequence order kept per sender, submitted
with broadcast_tx_sync from concurrent clients, every tx confirmed committed), once with
`--abci socket` and once with `--abci grpc` (abci_app/grpc_server.py; CometBFT's `--abci grpc`). The
socket run is the baseline. Rounds alternate the order. Prints the table and CPU per tx of
bench/throughput.py per round and ends with `ratio grpc_vs_socket X` (median over rounds).

    .venv/bin/python bench/grpc_transport.py              # 3000 txs, 3 rounds, ~3-4 min
    .venv/bin/python bench/grpc_transport.py --quick      # 500 txs, 1 round, under a minute
    .venv/bin/python bench/grpc_transport.py --rounds 5 --keep
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from _load import finalize_ms_by_height, free_ports, gradchain_txs, make_wallets, raise_on_signals  # noqa: E402
from _measure import print_ratio, print_verdict, run_rounds  # noqa: E402
from throughput import (CHAIN_ID, Node, apply_common_config, app_state, measure, print_cpu,  # noqa: E402
                        print_table)
from abci_app.node import find_cometbft, init_node  # noqa: E402
from abci_app.settings import Ports, app_log_path, cometbft_home  # noqa: E402

TRANSPORTS = ("socket", "grpc")


def start_node(transport: str, workdir: Path, wallets, args) -> Node:
    home = workdir / transport
    ports = Ports(*free_ports(4))
    init_node(home, "bench", CHAIN_ID, app_state(wallets), ports=ports, timeout_commit=args.timeout_commit,
              abci=transport)
    apply_common_config(cometbft_home(home), ports, args)
    node = Node(transport, home, f"http://127.0.0.1:{ports.rpc}", log=app_log_path(home))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open(home / "node.stderr", "ab") as err:
        node.procs.append(subprocess.Popen(
            [sys.executable, "-m", "abci_app.node", "--home", str(home), "--abci", transport], cwd=ROOT, env=env,
            stdout=subprocess.DEVNULL, stderr=err, start_new_session=True))
    return node


def run_transport(transport: str, workdir: Path, wallets, txs, args):
    node = start_node(transport, workdir, wallets, args)
    try:
        res = measure(node, txs, args)
    finally:
        node.stop()
    ms = finalize_ms_by_height(node.log)
    res.finalize_ms = [ms[b] for b in res.block_heights if b in ms]
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--txs", type=int, default=3000, help="txs per run (default 3000)")
    ap.add_argument("--senders", type=int, default=200, help="distinct funded senders (default 200)")
    ap.add_argument("--clients", type=int, default=4, help="concurrent submitting threads/connections (default 4)")
    ap.add_argument("--rate", type=float, default=0, help="pace total submissions to this tx/s (default: unpaced)")
    ap.add_argument("--method", choices=("sync", "async"), default="sync", help="broadcast_tx_sync (default) or _async")
    ap.add_argument("--timeout-commit", default="200ms", help="consensus.timeout_commit (default 200ms)")
    ap.add_argument("--rounds", type=int, default=3, help="measure both transports this many times, alternating "
                                                          "order (default 3)")
    ap.add_argument("--stall-timeout", type=float, default=60, help="give up after this many seconds without a block")
    ap.add_argument("--keep", action="store_true", help="keep the node homes (logs) and print where they are")
    ap.add_argument("--quick", action="store_true", help="smoke run (under a minute): 500 txs, 100 senders, 1 round")
    args = ap.parse_args()
    if args.quick:
        args.txs, args.senders, args.rounds = 500, min(args.senders, 100), 1
    if args.txs < 1 or args.senders < 1 or args.clients < 1 or args.rounds < 1:
        ap.error("--txs, --senders, --clients and --rounds must be positive")
    args.senders = min(args.senders, args.txs)

    raise_on_signals()
    wallets = make_wallets(args.senders)
    txs = gradchain_txs(wallets, args.txs, CHAIN_ID)
    sizes = [len(tx) for _, tx in txs]
    print(f"grpc transport bench: {args.txs} signed transfers per run ({min(sizes)}-{max(sizes)} bytes), "
          f"{args.senders} senders, {args.clients} clients, broadcast_tx_{args.method}, "
          f"{'rate ' + format(args.rate, 'g') + ' tx/s' if args.rate else 'unpaced'}, "
          f"timeout_commit {args.timeout_commit}, {args.rounds} round(s); cometbft {find_cometbft()}; "
          f"{os.cpu_count()} cpus")

    rounds = run_rounds(list(TRANSPORTS), args.rounds, "gradchain-grpc-", args.keep,
                        lambda name, where: run_transport(name, where, wallets, txs, args),
                        lambda name: f"gradchain over ABCI {name}")
    if rounds is None:
        return 130

    print()
    print("seconds: wall clock from the first submission until the poller saw the last bench tx's block;")
    print("tx/s = committed / seconds (bench/throughput.py's columns)")
    ratios = []
    for r, got in enumerate(rounds):
        if args.rounds > 1:
            print(f"-- round {r + 1}")
        print_table([got[name] for name in TRANSPORTS])
        print_cpu([got[name] for name in TRANSPORTS])
        for name in TRANSPORTS:
            ms = got[name].finalize_ms
            if ms:
                print(f"  {name}: FinalizeBlock median {statistics.median(ms):.0f} ms over {len(ms)} blocks")
        ratios.append(got["grpc"].tps / got["socket"].tps)
    print()
    print_ratio("ratio grpc/socket (committed tx/s)", ratios)
    code = print_verdict([res for got in rounds for res in got.values()])
    print(f"ratio grpc_vs_socket {statistics.median(ratios):.3f}")
    return code


if __name__ == "__main__":
    sys.exit(main())
