"""Committed tx/s of one gradchain node under sustained load, as a ratio over CometBFT's built-in kvstore.

Two single-validator nodes are run one after the other in the same run, each on a fresh home in a temp
dir, with the same CometBFT config and the same load:
  gradchain  `python -m abci_app.node --home H` (app over a TCP ABCI socket, LevelDB state)
  kvstore    `cometbft start --proxy_app=kvstore` (the in-process Go example app, in-memory state) [base]

Both homes get the same CometBFT settings (timeout_commit, create_empty_blocks, mempool size and cache,
log level, loopback-only listeners). The load shape is the same for both:
  * --txs txs, all built before the clock starts. gradchain: signed MsgSend transfers (fee above the
    genesis min fee) from --senders distinct genesis-funded wallets (Wallet.from_seed), each sending its
    own run of sequences 0..k-1 to the next wallet in the ring. kvstore: unique `key=value` txs, each
    padded to exactly the length of the gradchain tx at the same position (same size distribution).
  * --clients threads, each with one keep-alive HTTP connection (httpx), POST JSON-RPC
    broadcast_tx_sync (or --method async) to 127.0.0.1. Each sender's txs go to one thread only and in
    sequence order, so per-account sequence order is kept. Unpaced by default (each thread sends its
    next tx as soon as the previous returns); --rate R paces the total to R tx/s.
  * Measurement (the clients, poller and result are bench/_measure.py's, shared with
    bench/testnet_throughput.py): a poller reads /block_results?height=h then /block?height=h for every
    new height. A block counts when its results are stored (i.e. after FinalizeBlock). Every submitted tx
    must be found in a block (matched by SHA-256 of its bytes) with result code 0.
    seconds = wall clock (time.perf_counter in this process) from the first submission to the moment
    the poller saw the results of the last block holding one of the txs (poll granularity ~10 ms; after
    a block the poller tries the next height once, then idles until timeout_commit/2 after the last
    block, so polling adds little RPC load).
    tx/s = committed txs / seconds (all txs, in a valid run). Rejected (CheckTx code != 0), failed (RPC
    error) or missing / code != 0 txs make the measurement invalid; they are counted and printed (with
    --method async a rejected tx shows up only as missing, after --stall-timeout).

The ratio gradchain/kvstore (committed tx/s) is the result; absolute numbers depend on the machine.
The load generator shares the CPU with the node under test (same for both apps), so on a small machine
the kvstore figure is partly bounded by the generator itself (see the CPU lines): the ratio is then an
upper bound. With --rounds N the apps alternate order each round and the median of the per-round ratios
is reported.

Diagnostics printed with the table:
  * CPU ms per committed tx for each process (user+system from /proc over the measured interval: the
    node's processes, and this script's client threads + poller). On a CPU-bound machine the tx/s ratio
    tracks the inverse ratio of these totals, and the split shows where the time goes.
  * gradchain's own "finalized block" log lines (<home>/app.log): FinalizeBlock ms per block and their
    share of the measured interval (block execution vs everything else: CheckTx admission, waiting).
  * --abci-cli PATH adds a third app, kvstore-socket: the same in-memory kvstore served by CometBFT's
    `abci-cli kvstore` over a TCP ABCI socket, as gradchain is. The built-in kvstore is an in-process
    local client; this row separates the socket transport's cost from the Python app's. scripts/setup.sh
    builds it into .bin/abci-cli (`go install github.com/cometbft/cometbft/abci/cmd/abci-cli@v0.38.25`).

    .venv/bin/python bench/throughput.py              # default: 3000 txs, 200 senders, 4 clients, ~30-60 s
    .venv/bin/python bench/throughput.py --quick      # smoke run, ~10-30 s: 500 txs
    .venv/bin/python bench/throughput.py --rounds 3 --keep   # 3 alternating rounds, keep homes + logs
    .venv/bin/python bench/throughput.py --abci-cli .bin/abci-cli   # + kvstore over a socket
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import httpx  # noqa: E402
import tomlkit  # noqa: E402

from _load import (PARAMS, cpu_seconds, finalize_ms_by_height, free_ports,  # noqa: E402
                   gradchain_txs, kvstore_txs, make_wallets, parse_duration, raise_on_signals, rpc_get,
                   set_key, shared_settings, stop_process, wait_listening)
from _load import proc_tree as _proc_tree  # noqa: E402
from _measure import (LoadResult, Submitters, expected_hashes, finish, jsonrpc_lanes, poll_committed,  # noqa: E402
                      print_ratio, print_verdict, run_rounds)
from abci_app.node import find_cometbft, init_node  # noqa: E402
from abci_app.settings import Ports, app_log_path, cometbft_home, cometbft_log_path  # noqa: E402
from client.wallet import Wallet  # noqa: E402

CHAIN_ID = "bench-tput-1"


# --- load: pre-built txs -----------------------------------------------------------------------------
def app_state(wallets: list[Wallet]) -> dict:
    return {"auth": {"params": PARAMS},
            "bank": {"balances": [{"address": w.address, "coins": [{"denom": "ugrad", "amount": "1000000000000"}]}
                                  for w in sorted(wallets, key=lambda w: w.address)]}}


# --- processes and config ----------------------------------------------------------------------------
def apply_common_config(cmt_home: Path, ports: Ports, args) -> None:
    """The CometBFT settings both nodes share; written identically into both config.toml files."""
    path = cmt_home / "config" / "config.toml"
    doc = tomlkit.parse(path.read_text())
    for key, value in [
        ("rpc.laddr", f"tcp://127.0.0.1:{ports.rpc}"),
        ("p2p.laddr", f"tcp://127.0.0.1:{ports.p2p}"),
        ("instrumentation.prometheus_listen_addr", f"127.0.0.1:{ports.prometheus}"),
        *shared_settings(args.timeout_commit, 2 * args.txs),
    ]:
        set_key(doc, key, value)
    path.write_text(tomlkit.dumps(doc))


@dataclass
class Node:
    name: str
    home: Path
    rpc: str
    procs: list = field(default_factory=list)  # in start order; stopped in reverse order
    log: Path | None = None

    def check_alive(self, when: str) -> None:
        for proc in self.procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{self.name}: {proc.args[0]} exited with code {proc.returncode} {when}; "
                                   f"see {self.home} (--keep keeps it)")

    def stop(self) -> None:
        interrupted = False
        for proc in reversed(self.procs):
            try:
                stop_process(proc)
            except KeyboardInterrupt:
                interrupted = True  # keep stopping the others
        if interrupted:
            raise KeyboardInterrupt


def start_gradchain(workdir: Path, wallets: list[Wallet], args) -> Node:
    home = workdir / "gradchain"
    ports = Ports(*free_ports(4))
    init_node(home, "bench", CHAIN_ID, app_state(wallets), ports=ports, timeout_commit=args.timeout_commit)
    apply_common_config(cometbft_home(home), ports, args)
    node = Node("gradchain", home, f"http://127.0.0.1:{ports.rpc}", log=app_log_path(home))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open(home / "node.stderr", "ab") as err:
        # Own session: a terminal Ctrl-C reaches only this script, which then stops the node in order.
        node.procs.append(subprocess.Popen([sys.executable, "-m", "abci_app.node", "--home", str(home)], cwd=ROOT,
                                           env=env, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True))
    return node


def start_kvstore(workdir: Path, args, socket_cli: str | None = None) -> Node:
    """CometBFT's kvstore: built in (`--proxy_app=kvstore`, in-process), or with socket_cli the same
    in-memory kvstore served by `abci-cli kvstore` over a TCP ABCI socket, like gradchain's app."""
    name = "kvstore-socket" if socket_cli else args.baseline
    home = workdir / name
    cmt = cometbft_home(home)
    home.mkdir(parents=True)
    cometbft = str(find_cometbft())
    subprocess.run([cometbft, "init", "--home", str(cmt)], check=True, capture_output=True)
    ports = Ports(*free_ports(4))
    proxy_app = f"tcp://127.0.0.1:{ports.abci}" if socket_cli else args.baseline
    config_path = cmt / "config" / "config.toml"
    doc = tomlkit.parse(config_path.read_text())
    set_key(doc, "moniker", "bench")
    set_key(doc, "proxy_app", proxy_app)
    config_path.write_text(tomlkit.dumps(doc))
    apply_common_config(cmt, ports, args)
    node = Node(name, home, f"http://127.0.0.1:{ports.rpc}", log=cometbft_log_path(home))
    try:
        if socket_cli:
            with open(home / "abci-cli.log", "ab") as out:
                node.procs.append(subprocess.Popen(
                    [socket_cli, "kvstore", "--address", proxy_app, "--log_level", "error"],
                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
            wait_listening(ports.abci, node.procs[0])
        with open(cometbft_log_path(home), "ab") as out:
            node.procs.append(subprocess.Popen([cometbft, "start", "--home", str(cmt), f"--proxy_app={proxy_app}"],
                                               stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
    except BaseException:
        node.stop()
        raise
    return node


def wait_ready(node: Node, http: httpx.Client, min_height: int = 2, timeout: float = 90) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        node.check_alive("before the run")
        try:
            h = int(rpc_get(http, node.rpc, "status")["sync_info"]["latest_block_height"])
            if h >= min_height:
                return h
        except (httpx.HTTPError, LookupError, ValueError, KeyError):
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{node.name} did not reach height {min_height} in {timeout}s")


# --- one measured run (the clients, poller and result: bench/_measure.py) ----------------------------
Result = LoadResult


def measure(node: Node, lanes_txs: list[tuple[int, bytes]], args) -> Result:
    res = Result(node.name, len(lanes_txs))
    expected = expected_hashes(lanes_txs)
    lanes = jsonrpc_lanes(lanes_txs, args.clients, "broadcast_tx_" + args.method)
    subs = Submitters([(node.rpc, lane) for lane in lanes], len(lanes_txs),
                      args.clients / args.rate if args.rate else 0.0, check_code=args.method == "sync")
    with httpx.Client(timeout=30) as http:
        res.start_height = wait_ready(node, http)
        subs.start()
        time.sleep(0.2)  # threads connected and waiting
        pids = [pid for proc in node.procs for pid in _proc_tree(proc.pid)]
        cpu0, self0 = cpu_seconds(pids), time.process_time()
        subs.go()
        poll_committed(http, node.rpc, res, subs, expected, 0.5 * parse_duration(args.timeout_commit),
                       args.stall_timeout, node.check_alive)
        cpu1, self1 = cpu_seconds(pids), time.process_time()
        subs.join(60)
    finish(res, subs)
    for pid, (name, before) in cpu0.items():
        if pid in cpu1:
            label = "app (python)" if name.startswith("python") else name
            res.cpu[label] = res.cpu.get(label, 0.0) + cpu1[pid][1] - before
    res.cpu["bench client+poller"] = self1 - self0
    if node.name == "gradchain":
        ms = finalize_ms_by_height(node.log)
        res.finalize_ms = [ms[b] for b in res.block_heights if b in ms]
    return res


def run_app(name: str, workdir: Path, wallets, txs, args) -> Result:
    node = None
    try:
        if name == "gradchain":
            node = start_gradchain(workdir, wallets, args)
        else:
            node = start_kvstore(workdir, args, args.abci_cli if name == "kvstore-socket" else None)
        return measure(node, txs, args)
    finally:
        if node is not None:
            node.stop()


# --- report ------------------------------------------------------------------------------------------
def print_table(results: list[Result]) -> None:
    print(f"{'app':<20}{'txs':>6}{'seconds':>9}{'tx/s':>9}{'blocks':>8}{'txs/block':>11}"
          f"{'span':>6}{'submit s':>10}{'rejected':>10}{'failed':>8}{'bad/miss':>9}")
    for r in results:
        mean = r.committed / r.blocks if r.blocks else 0
        print(f"{r.app:<20}{r.txs:>6}{r.seconds:>9.2f}{r.tps:>9.1f}{r.blocks:>8}{mean:>11.1f}"
              f"{r.span_blocks:>6}{r.submit_seconds:>10.2f}{r.rejected:>10}{r.failed:>8}"
              f"{f'{r.bad_code}/{r.missing}':>9}")
        for e in r.first_errors:
            print(f"    {e}")


def print_cpu(results: list[Result]) -> None:
    print("CPU ms per tx during the run (user+system, /proc; includes idle-block overhead):")
    for r in results:
        if r.cpu:
            parts = ", ".join(f"{k} {1000 * v / r.txs:.2f}" for k, v in r.cpu.items())
            total = sum(r.cpu.values())
            print(f"  {r.app:<20} {parts}; total {1000 * total / r.txs:.2f} ms/tx = "
                  f"{100 * total / r.seconds:.0f}% of one core over {r.seconds:.2f} s")


def print_finalize(r: Result, timeout_commit_s: float) -> None:
    if not r.finalize_ms:
        return
    ms = r.finalize_ms
    per_block = r.committed / max(r.blocks, 1)
    total = sum(ms) / 1000
    print(f"  gradchain FinalizeBlock (app.log, blocks with bench txs): median {statistics.median(ms):.0f} ms, "
          f"max {max(ms):.0f} ms, sum {total:.2f} s = {100 * total / r.seconds:.0f}% of the measured "
          f"{r.seconds:.2f} s; {sum(ms) / max(r.committed, 1):.3f} ms/tx "
          f"(~{per_block:.0f} txs/block; timeout_commit {timeout_commit_s * 1000:.0f} ms)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--txs", type=int, default=3000, help="txs per app (default 3000)")
    ap.add_argument("--senders", type=int, default=200, help="distinct funded senders (default 200)")
    ap.add_argument("--clients", type=int, default=4, help="concurrent submitting threads/connections (default 4)")
    ap.add_argument("--rate", type=float, default=0, help="pace total submissions to this tx/s (default: unpaced)")
    ap.add_argument("--method", choices=("sync", "async"), default="sync", help="broadcast_tx_sync (default) or _async")
    ap.add_argument("--timeout-commit", default="200ms", help="consensus.timeout_commit for both nodes (default 200ms)")
    ap.add_argument("--baseline", choices=("kvstore", "persistent_kvstore"), default="kvstore",
                    help="CometBFT built-in app to compare with (default kvstore, in-memory)")
    ap.add_argument("--abci-cli", metavar="PATH",
                    help="also measure the same in-memory kvstore served over a TCP ABCI socket by this "
                         "CometBFT v0.38 `abci-cli` binary (separates the socket transport's cost from the app's)")
    ap.add_argument("--rounds", type=int, default=1, help="measure all apps this many times, alternating order")
    ap.add_argument("--stall-timeout", type=float, default=60, help="give up after this many seconds without a block")
    ap.add_argument("--keep", action="store_true", help="keep the node homes (logs) and print where they are")
    ap.add_argument("--quick", action="store_true", help="smoke run (~10-30 s): 500 txs, 100 senders")
    args = ap.parse_args()
    if args.quick:
        args.txs, args.senders = 500, min(args.senders, 100)
    if args.txs < 1 or args.senders < 1 or args.clients < 1:
        ap.error("--txs, --senders and --clients must be positive")
    args.senders = min(args.senders, args.txs)

    raise_on_signals()

    t_build = time.perf_counter()
    wallets = make_wallets(args.senders)
    g_txs = gradchain_txs(wallets, args.txs, CHAIN_ID)
    k_txs = kvstore_txs(g_txs)
    t_build = time.perf_counter() - t_build
    sizes = [len(tx) for _, tx in g_txs]
    print(f"throughput bench: {args.txs} txs per app ({min(sizes)}-{max(sizes)} bytes, mean "
          f"{statistics.mean(sizes):.1f}, same for both), {args.senders} senders x up to "
          f"{-(-args.txs // args.senders)} sequential txs, {args.clients} clients, broadcast_tx_{args.method}, "
          f"{'rate ' + format(args.rate, 'g') + ' tx/s' if args.rate else 'unpaced'}, "
          f"timeout_commit {args.timeout_commit}; txs built in {t_build:.1f}s; cometbft {find_cometbft()}; "
          f"{os.cpu_count()} cpus")

    apps = ["kvstore", "gradchain"] + (["kvstore-socket"] if args.abci_cli else [])
    rounds = run_rounds(apps, args.rounds, "gradchain-tput-", args.keep,
                        lambda name, where: run_app(name, where, wallets, g_txs if name == "gradchain" else k_txs, args),
                        lambda name: args.baseline if name == "kvstore" else name)
    if rounds is None:
        return 130

    print()
    print("seconds: wall clock from the first submission until the poller saw the results of the last block")
    print("holding a bench tx; tx/s = committed / seconds; blocks = blocks holding bench txs; span = blocks from")
    print("the first submission to the last such block; submit s = time to submit all txs")
    pairs = [("gradchain", "kvstore")]
    if args.abci_cli:
        pairs += [("gradchain", "kvstore-socket"), ("kvstore-socket", "kvstore")]
    ratios: dict[tuple, list[float]] = {pair: [] for pair in pairs}
    for r, got in enumerate(rounds):
        if args.rounds > 1:
            print(f"-- round {r + 1}")
        print_table([got[name] for name in ("gradchain", "kvstore", "kvstore-socket") if name in got])
        print_cpu([got[name] for name in ("gradchain", "kvstore", "kvstore-socket") if name in got])
        print_finalize(got["gradchain"], parse_duration(args.timeout_commit))
        for a, b in pairs:
            ratios[(a, b)].append(got[a].tps / got[b].tps)
    print()
    for (a, b), values in ratios.items():
        print_ratio(f"ratio {a}/{args.baseline if b == 'kvstore' else b} (committed tx/s)", values)
    return print_verdict([g for got in rounds for g in got.values()])


if __name__ == "__main__":
    sys.exit(main())
