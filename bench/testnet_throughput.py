"""Committed tx/s of a 4-validator loopback testnet under sustained load, as a ratio over the same
testnet shape running CometBFT's kvstore example app served over the same ABCI socket transport
(`abci-cli kvstore`), and over CometBFT's built-in (in-process) kvstore; with block interval, commit
latency per tx and memory per node under that load.

Three testnets are run one after the other in the same run, each on fresh homes in a temp dir:
  gradchain       abci_app.testnet.init_testnet/start_testnet/stop_testnet: 4 nodes, each
                  `python -m abci_app.node` (Python app over a TCP ABCI socket, LevelDB state) plus its
                  `cometbft start` child; genesis from config/local.toml with 4 bonded operators (power 10
                  each), a faucet, and the bench senders funded through init_testnet(extra_balances=...).
  kvstore-socket  4 `cometbft start --proxy_app=tcp://127.0.0.1:P` processes, each talking to its own
                  `abci-cli kvstore --address tcp://127.0.0.1:P` (CometBFT's Go example app, in-memory
                  state, over the socket client gradchain also gets) [the baseline of the target]: abci-cli
                  comes from --abci-cli, PATH or .bin/abci-cli (scripts/setup.sh builds it from
                  github.com/cometbft/cometbft/abci/cmd/abci-cli@v0.38.25).
  kvstore         the same, with `--proxy_app=kvstore` (the app in the cometbft process, no socket).
The two kvstore testnets: 4 homes from `cometbft init`, one genesis listing the 4 validators (power 10
each), persistent peers between all of them.
All have the same shape: 4 validators on 127.0.0.1 with ports base + 10*i, every node a
persistent peer of the other three, the same chain id, and the same CometBFT settings written into
each node's config.toml (bench/_load.py shared_settings: timeout_commit, create_empty_blocks, mempool
size / cache / max bytes / recheck, log level, addr_book_strict off, allow_duplicate_ip, no prometheus).

Load (the same shape for every app):
  * --txs txs, all built before the clock starts. gradchain: signed MsgSend transfers (fee 1000ugrad,
    above the genesis min fee) from --senders distinct genesis-funded wallets (Wallet.from_seed), each
    sending its own run of sequences 0..k-1 to the next wallet in the ring. kvstore (both): unique
    `key=value` txs, each padded to exactly the length of the gradchain tx at the same position.
  * --clients threads (default 8), client k talks to node k % 4 only, over one keep-alive HTTP
    connection (httpx), with JSON-RPC broadcast_tx_sync. Sender s is served by client s % clients, so
    consecutive senders go to nodes 0, 1, 2, 3, 0, ... (round-robin over the 4 nodes, an equal share
    each) and a sender's txs all enter at one node, in sequence order (gradchain's CheckTx wants the
    next sequence; gossip keeps a peer's order). kvstore txs use the same lanes. Unpaced by default:
    each client sends its next tx as soon as the previous CheckTx reply arrives (broadcast_tx_sync
    is the back-pressure); --rate R paces the total to R tx/s instead.
  * A tx is "committed" when its block's results can be read from node0 (the clients, poller and result
    are bench/_measure.py's, shared with bench/throughput.py): a poller thread reads
    /block_results?height=h, then /block?height=h from node0 for every new height h (after a block it
    tries h+1 at once, then idles until timeout_commit/2 after the last block, as no block can come
    sooner, then polls every 10 ms). Txs are matched by SHA-256 of their bytes; each must be found with
    result code 0. Rejected (CheckTx code != 0 in the broadcast_tx_sync reply), failed (HTTP or RPC
    error) and missing (never seen committed; the run gives up after --stall-timeout s without a new
    block) txs are counted and printed; any of them makes the run INVALID (exit code 1).

Measured (all clocks are time.perf_counter in this process unless said otherwise):
  * seconds = from the first submission to the moment the poller saw the results of the last block
    holding a bench tx; tx/s = committed txs / seconds. The ratios gradchain/kvstore-socket and
    gradchain/kvstore of tx/s are the result: the last two lines, `ratio admission_vs_socket_kvstore X`
    and `ratio admission_vs_builtin_kvstore Y` (medians over --rounds; latency and memory ratios are
    against kvstore-socket).
  * block interval: header.time[h] - header.time[h-1] (BFT time from the block headers, i.e. set by the
    validators' precommit clocks, not by this process) for every h after the first block holding a
    bench tx up to the last one; p50/p95/max.
  * commit latency per tx: (time the poller received node0's /block_results for the tx's block)
    - (time just before this process sent the tx's broadcast_tx_sync request). It includes the RPC
    and CheckTx at the entry node, gossip to the proposer, waiting in the mempool, consensus,
    FinalizeBlock on node0 and the poll delay (<= ~10 ms plus one RPC). p50/p95/max over all txs.
    Unpaced, the load keeps the mempools full, so this is latency at saturation: it includes queueing
    behind earlier txs (see "mempool max"). Use --rate below both capacities to compare latencies at an
    equal offered load.
  * memory per node: VmRSS from /proc/<pid>/status of each node's processes, sampled every
    --sample-interval s (default 0.5) from the first submission to the end of the run: gradchain the app
    (the python node process) and its cometbft child; kvstore-socket the abci-cli and cometbft
    processes; kvstore the cometbft process only (the app is in it). Printed: max per node and process, and the mean over the 4 nodes of those maxima; "idle" is one
    sample just before the load starts. The same sampler reads num_unconfirmed_txs from every node
    (mempool max).
  * CPU ms per committed tx of all 4 nodes' processes, grouped (user+system, /proc), and of this script
    (clients, poller, sampler), over the measured interval: on a CPU-bound machine the tx/s ratio
    tracks the inverse ratio of these totals. gradchain also gets node0's FinalizeBlock ms from app.log.

Max RSS grows with the number of txs run through a node (mempool and its cache, gradchain's decoded-tx
cache of up to 20000 txs, Go heap), so compare memory figures at equal --txs. mempool.recheck stays on
(CometBFT's default) for all: gradchain rebuilds its CheckTx state from the recheck after each block,
so with recheck off a sender's next sequence would be rejected.

The load generator shares the CPUs with the 4 nodes (same for every app), so on a small machine the
kvstore figure is partly bounded by the generator itself (see the CPU lines): the ratio is then an upper
bound. With --rounds N the apps alternate order each round and the median per-round ratio is reported.
All processes are stopped on exit, also on Ctrl-C / SIGTERM (signals are held while nodes start and stop).

    .venv/bin/python bench/testnet_throughput.py            # default: 20000 txs, 200 senders, ~4-6 min
    .venv/bin/python bench/testnet_throughput.py --quick    # smoke run, <2 min: 6000 txs, 100 senders
    .venv/bin/python bench/testnet_throughput.py --rate 150 # latency at an equal offered load
    .venv/bin/python bench/testnet_throughput.py --keep     # keep homes + logs, print where they are
"""
from __future__ import annotations

import argparse
import calendar
import hashlib
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import httpx  # noqa: E402

from _load import (FEE, cpu_seconds, edit_config, finalize_ms_by_height, find_abci_cli,  # noqa: E402
                   free_port_base, gradchain_txs, kvstore_txs, make_wallets, parse_duration, percentile,
                   proc_alive, proc_name, proc_tree, raise_on_signals, rpc_get, shared_settings,
                   signals_deferred, vm_rss_kib, wait_listening)
from _measure import (LoadResult, Submitters, expected_hashes, finish, jsonrpc_lanes, poll_committed,  # noqa: E402
                      print_ratio, print_verdict, run_rounds)
from abci_app.node import find_cometbft, node_id  # noqa: E402
from abci_app.settings import Ports, app_log_path, cometbft_home, cometbft_log_path  # noqa: E402
from abci_app.testnet import PORT_STRIDE, init_testnet, start_testnet, stop_testnet  # noqa: E402
from client.wallet import Wallet  # noqa: E402

CHAIN_ID = "bench-testnet-1"
VALIDATORS = 4
POWER = 10  # gradchain: bond 10_000_000 / power_reduction 1_000_000 (config/local.toml)
OPERATORS = [Wallet.from_seed(hashlib.sha256(b"testnet-bench-operator-%d" % i).digest()) for i in range(VALIDATORS)]
FAUCET = Wallet.from_seed(hashlib.sha256(b"testnet-bench-faucet").digest())
SENDER_FUNDS = {"ugrad": 10 ** 12}
MIB = 1024
QUICK_TXS = 6000


def load_preset() -> dict:
    return tomllib.loads((ROOT / "config" / "local.toml").read_text())


# --- the two testnets --------------------------------------------------------------------------------
@dataclass
class Testnet:
    app: str
    root: Path
    homes: list[Path]
    rpcs: list[str]
    kv_procs: list = field(default_factory=list)    # kvstore, kvstore-socket: the cometbft process of each node
    cli_procs: list = field(default_factory=list)   # kvstore-socket: the `abci-cli kvstore` of each node
    node_pids: list = field(default_factory=list)   # gradchain: the python node (app) of each node
    roles: list = field(default_factory=list)       # per node {"app": pid, "cometbft": pid}, once ready

    def resolve_roles(self) -> bool:
        if self.app != "gradchain":
            self.roles = self.kv_roles()
            return True
        roles = []
        for pid in self.node_pids:
            kids = [c for c in proc_tree(pid)[1:] if proc_name(c) == "cometbft"]
            if not kids:
                return False
            roles.append({"app": pid, "cometbft": kids[0]})
        self.roles = roles
        return True

    def check_alive(self, when: str) -> None:
        if self.roles:
            pids = self.roles
        elif self.app == "gradchain":
            pids = [{"app": pid} for pid in self.node_pids]
        else:
            pids = self.kv_roles()
        for i, roles in enumerate(pids):
            for role, pid in roles.items():
                if not proc_alive(pid):
                    logs = [self.homes[i] / "node.out", self.homes[i] / "abci-cli.log", app_log_path(self.homes[i]),
                            cometbft_log_path(self.homes[i])]
                    tails = "\n".join(f"--- {p}\n{tail(p)}" for p in logs if p.exists())
                    raise RuntimeError(f"{self.app} node{i}: its {role} process {pid} exited {when}; "
                                       f"see {self.homes[i]} (--keep keeps it)\n{tails}")

    def kv_roles(self) -> list[dict]:
        if self.cli_procs:
            return [{"app": a.pid, "cometbft": c.pid} for a, c in zip(self.cli_procs, self.kv_procs)]
        return [{"cometbft": p.pid} for p in self.kv_procs]

    def stop(self) -> None:
        with signals_deferred():  # a second Ctrl-C must not leave nodes behind
            if self.app == "gradchain":
                stop_testnet(self.root)  # every node with a node.pid file
                return
            for procs in (self.kv_procs, self.cli_procs):  # cometbft first: it may call its app until it stops
                for proc in procs:
                    if proc.poll() is None:
                        proc.terminate()
                for proc in procs:
                    try:
                        proc.wait(20)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()


def tail(path: Path, lines: int = 8) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def start_gradchain(workdir: Path, wallets: list[Wallet], args) -> Testnet:
    root = workdir / "gradchain"
    preset = load_preset()
    manifest = init_testnet(root, VALIDATORS, CHAIN_ID, preset, [w.address_bytes for w in OPERATORS],
                            FAUCET.address_bytes, port_base=free_port_base(PORT_STRIDE * VALIDATORS),
                            timeout_commit=args.timeout_commit,
                            extra_balances={w.address_bytes: SENDER_FUNDS for w in wallets})
    homes = [Path(n["home"]) for n in manifest["nodes"]]
    for home in homes:
        edit_config(cometbft_home(home), shared_settings(args.timeout_commit, 2 * args.txs))
    net = Testnet("gradchain", root, homes, [f"http://127.0.0.1:{n['rpc']}" for n in manifest["nodes"]])
    try:
        with signals_deferred():  # every started node has its node.pid file before a Ctrl-C can land
            net.node_pids = start_testnet(root)
    except BaseException:
        net.stop()
        raise
    return net


def start_kvstore(workdir: Path, args, abci_cli: Path | None = None) -> Testnet:
    """CometBFT's kvstore on every node: built in (`--proxy_app=kvstore`, in-process), or with `abci_cli`
    the same in-memory kvstore served by `abci-cli kvstore` over a TCP ABCI socket, as gradchain's app is."""
    name = "kvstore-socket" if abci_cli else "kvstore"
    root = workdir / name
    cometbft = str(find_cometbft())
    base = free_port_base(PORT_STRIDE * VALIDATORS)
    homes = [root / f"node{i}" for i in range(VALIDATORS)]
    ports = [Ports.from_base(base + PORT_STRIDE * i) for i in range(VALIDATORS)]
    validators = []
    for i, home in enumerate(homes):
        home.mkdir(parents=True)
        subprocess.run([cometbft, "init", "--home", str(cometbft_home(home))], check=True, capture_output=True)
        own = json.loads((cometbft_home(home) / "config" / "genesis.json").read_text())["validators"][0]
        validators.append({**own, "power": str(POWER), "name": f"node{i}"})
    genesis = json.loads((cometbft_home(homes[0]) / "config" / "genesis.json").read_text())
    genesis.update(chain_id=CHAIN_ID, validators=validators)
    ids = [node_id(home) for home in homes]
    proxy_apps = [f"tcp://127.0.0.1:{p.abci}" if abci_cli else "kvstore" for p in ports]
    for i, home in enumerate(homes):
        (cometbft_home(home) / "config" / "genesis.json").write_text(json.dumps(genesis, indent=2) + "\n")
        peers = ",".join(f"{ids[j]}@127.0.0.1:{ports[j].p2p}" for j in range(VALIDATORS) if j != i)
        edit_config(cometbft_home(home), [
            ("moniker", f"node{i}"),
            ("proxy_app", proxy_apps[i]),
            ("rpc.laddr", f"tcp://127.0.0.1:{ports[i].rpc}"),
            ("p2p.laddr", f"tcp://127.0.0.1:{ports[i].p2p}"),
            ("p2p.persistent_peers", peers),
            ("instrumentation.prometheus_listen_addr", f"127.0.0.1:{ports[i].prometheus}"),
            *shared_settings(args.timeout_commit, 2 * args.txs),
        ])
    net = Testnet(name, root, homes, [f"http://127.0.0.1:{p.rpc}" for p in ports])
    try:
        if abci_cli:  # every app listens before its cometbft dials it
            for home, proxy_app in zip(homes, proxy_apps):
                with signals_deferred(), open(home / "abci-cli.log", "ab") as out:
                    net.cli_procs.append(subprocess.Popen(
                        [str(abci_cli), "kvstore", "--address", proxy_app, "--log_level", "error"],
                        stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True))
            for port, proc in zip(ports, net.cli_procs):
                wait_listening(port.abci, proc)
        for home, proxy_app in zip(homes, proxy_apps):
            with signals_deferred(), open(cometbft_log_path(home), "ab") as out:
                net.kv_procs.append(subprocess.Popen(
                    [cometbft, "start", "--home", str(cometbft_home(home)), f"--proxy_app={proxy_app}"],
                    stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True))
    except BaseException:
        net.stop()
        raise
    return net


def wait_ready(net: Testnet, http: httpx.Client, min_height: int = 2, timeout: float = 120) -> int:
    """Every node at min_height or above with all 3 peers connected; returns node0's height."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        net.check_alive("before the run")
        try:
            heights = [int(rpc_get(http, u, "status")["sync_info"]["latest_block_height"]) for u in net.rpcs]
            peers = [int(rpc_get(http, u, "net_info")["n_peers"]) for u in net.rpcs]
            if min(heights) >= min_height and min(peers) >= VALIDATORS - 1 and net.resolve_roles():
                return heights[0]
        except (httpx.HTTPError, LookupError, ValueError, KeyError):
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{net.app} testnet not ready (height {min_height}, all peers) in {timeout}s")


# --- one measured run (the clients, poller and result: bench/_measure.py) ----------------------------
@dataclass
class Result(LoadResult):
    rss_max: list = field(default_factory=list)         # per node {role: KiB}
    rss_idle: list = field(default_factory=list)        # per node {role: KiB}
    mempool_max: list = field(default_factory=list)     # per node

    def intervals_ms(self) -> list[float]:
        if not self.block_txs:
            return []
        first, last = min(self.block_txs), max(self.block_txs)
        t = self.header_time
        return [1000 * (t[h] - t[h - 1]) for h in range(first + 1, last + 1) if h in t and h - 1 in t]


def header_unix(text: str) -> float:
    """RFC 3339 header time with up to nanoseconds ('2026-11-22T04:36:16.123456789Z') -> unix seconds."""
    text = text.rstrip("Z")
    whole, _, frac = text.partition(".")
    secs = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S"))
    return secs + (int(frac) / 10 ** len(frac) if frac else 0.0)


def sample_rss(net: Testnet) -> list[dict]:
    return [{role: vm_rss_kib(pid) or 0 for role, pid in roles.items()} for roles in net.roles]


def sampler(net: Testnet, res: Result, stop: threading.Event, period: float) -> None:
    """Max VmRSS per node and process, and max mempool size per node, until `stop`."""
    res.rss_max = [dict(r) for r in sample_rss(net)]
    res.mempool_max = [0] * len(net.rpcs)
    with httpx.Client(timeout=5) as http:
        while not stop.wait(period):
            for node, sample in enumerate(sample_rss(net)):
                for role, kib in sample.items():
                    res.rss_max[node][role] = max(res.rss_max[node][role], kib)
            for node, url in enumerate(net.rpcs):
                try:
                    n = int(rpc_get(http, url, "num_unconfirmed_txs")["n_txs"])
                    res.mempool_max[node] = max(res.mempool_max[node], n)
                except (httpx.HTTPError, LookupError, ValueError, KeyError):
                    pass


def cpu_by_group(pids_roles: dict[int, str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for pid, (_, secs) in cpu_seconds(list(pids_roles)).items():
        out[pids_roles[pid]] = out.get(pids_roles[pid], 0.0) + secs
    return out


def measure(net: Testnet, lanes_txs: list[tuple[int, bytes]], args) -> Result:
    res = Result(net.app, len(lanes_txs))
    expected = expected_hashes(lanes_txs)
    clients = jsonrpc_lanes(lanes_txs, args.clients, "broadcast_tx_sync")
    subs = Submitters([(net.rpcs[k % VALIDATORS], clients[k]) for k in range(args.clients)], len(lanes_txs),
                      args.clients / args.rate if args.rate else 0.0)
    with httpx.Client(timeout=30) as http:
        res.start_height = wait_ready(net, http)
        subs.start()
        time.sleep(0.3)  # threads connected and waiting
        res.rss_idle = sample_rss(net)
        groups = {roles["cometbft"]: "cometbft" for roles in net.roles}
        for roles in net.roles:
            if "app" in roles:
                for pid in proc_tree(roles["app"]):
                    groups.setdefault(pid, "app (python)" if net.app == "gradchain" else "app (abci-cli)")
        cpu0, self0 = cpu_by_group(groups), time.process_time()
        stop_sampling = threading.Event()
        sampling = threading.Thread(target=sampler, args=(net, res, stop_sampling, args.sample_interval),
                                    daemon=True, name="sampler")
        subs.go()
        sampling.start()
        try:
            poll_committed(http, net.rpcs[0], res, subs, expected, 0.5 * parse_duration(args.timeout_commit),
                           args.stall_timeout, net.check_alive, header_unix)
            cpu1, self1 = cpu_by_group(groups), time.process_time()
        finally:
            stop_sampling.set()
            sampling.join(10)
        subs.join(60)
    finish(res, subs)
    res.cpu = {g: cpu1.get(g, 0.0) - cpu0.get(g, 0.0) for g in cpu0}
    res.cpu["bench (clients+poller+sampler)"] = self1 - self0
    if net.app == "gradchain":
        ms = finalize_ms_by_height(app_log_path(net.homes[0]))
        res.finalize_ms = [ms[b] for b in sorted(res.block_txs) if b in ms]
    return res


def run_app(name: str, workdir: Path, wallets, txs, args) -> Result:
    net = None
    try:
        if name == "gradchain":
            net = start_gradchain(workdir, wallets, args)
        else:
            net = start_kvstore(workdir, args, args.abci_cli if name == "kvstore-socket" else None)
        return measure(net, txs, args)
    finally:
        if net is not None:
            net.stop()


# --- report ------------------------------------------------------------------------------------------
def print_results(results: list[Result], args) -> None:
    print(f"{'app':<16}{'txs':>6}{'seconds':>9}{'tx/s':>8}{'blocks':>7}{'txs/block':>10}{'max':>5}"
          f"{'submit s':>9}{'rejected':>9}{'failed':>7}{'bad code':>9}{'missing':>8}")
    for r in results:
        per_block = list(r.block_txs.values()) or [0]
        print(f"{r.app:<16}{r.txs:>6}{r.seconds:>9.2f}{r.tps:>8.1f}{len(r.block_txs):>7}"
              f"{statistics.mean(per_block):>10.1f}{max(per_block):>5}{r.submit_seconds:>9.2f}"
              f"{r.rejected:>9}{r.failed:>7}{r.bad_code:>9}{r.missing:>8}")
        for e in r.first_errors:
            print(f"    {e}")
    print()
    print(f"{'app':<16}{'block interval ms: p50':>23}{'p95':>6}{'max':>6}{'n':>5}"
          f"{'   commit latency ms: p50':>26}{'p95':>7}{'max':>7}{'   mempool max/node':>20}")
    for r in results:
        iv = r.intervals_ms()
        lat = [1000 * x for x in r.latencies]
        pool = "/".join(str(n) for n in r.mempool_max) if r.mempool_max else "-"
        print(f"{r.app:<16}{percentile(iv, 50):>23.0f}{percentile(iv, 95):>6.0f}{max(iv, default=float('nan')):>6.0f}"
              f"{len(iv):>5}{percentile(lat, 50):>26.0f}{percentile(lat, 95):>7.0f}"
              f"{max(lat, default=float('nan')):>7.0f}{pool:>20}")
    print()
    print("memory per node, VmRSS MiB: max during the run (idle before the load)")
    for r in results:
        roles = list(r.rss_max[0]) if r.rss_max else []
        for role in roles:
            cells = [f"node{i} {m[role] / MIB:6.1f} ({idle[role] / MIB:5.1f})"
                     for i, (m, idle) in enumerate(zip(r.rss_max, r.rss_idle))]
            mean = statistics.mean(m[role] for m in r.rss_max) / MIB
            print(f"  {r.app:<16}{role:<9} " + "  ".join(cells) + f"   mean of max {mean:6.1f}")
        if len(roles) > 1:
            mean_total = statistics.mean(sum(m.values()) for m in r.rss_max) / MIB
            print(f"  {r.app:<16}{'app+cmt':<9} mean over nodes of (app max + cometbft max) {mean_total:.1f} MiB")
    print()
    print("CPU ms per committed tx over the measured interval (user+system from /proc; 4 nodes summed):")
    for r in results:
        if r.cpu and r.committed:
            parts = ", ".join(f"{k} {1000 * v / r.committed:.2f}" for k, v in r.cpu.items())
            total = sum(r.cpu.values())
            print(f"  {r.app:<16} {parts}; total {1000 * total / r.committed:.2f} ms/tx = "
                  f"{100 * total / r.seconds:.0f}% of one core over {r.seconds:.1f} s ({os.cpu_count()} cpus)")
    for r in results:
        if r.finalize_ms:
            ms = r.finalize_ms
            print(f"  {r.app} node0 FinalizeBlock (app.log, blocks with bench txs): median "
                  f"{statistics.median(ms):.0f} ms, max {max(ms):.0f} ms, "
                  f"{sum(ms) / max(r.committed, 1):.3f} ms/tx, sum = {100 * sum(ms) / 1000 / r.seconds:.0f}% "
                  f"of the measured {r.seconds:.1f} s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--txs", type=int, default=20000, help="txs per app (default 20000)")
    ap.add_argument("--senders", type=int, default=200, help="distinct funded senders (default 200)")
    ap.add_argument("--clients", type=int, default=8,
                    help="submitting threads, client k -> node k %% 4 (default 8: 2 per node)")
    ap.add_argument("--rate", type=float, default=0, help="pace total submissions to this tx/s (default: unpaced)")
    ap.add_argument("--timeout-commit", default="200ms", help="consensus.timeout_commit on every node (default 200ms)")
    ap.add_argument("--sample-interval", type=float, default=0.5, help="RSS / mempool sampling period, s")
    ap.add_argument("--rounds", type=int, default=1, help="measure both apps this many times, alternating order")
    ap.add_argument("--stall-timeout", type=float, default=60, help="give up after this many seconds without a block")
    ap.add_argument("--keep", action="store_true", help="keep the node homes (logs) and print where they are")
    ap.add_argument("--abci-cli", metavar="PATH", help="CometBFT v0.38.25 `abci-cli` for the socket-kvstore baseline "
                    "(default: PATH, then .bin/abci-cli, which scripts/setup.sh builds)")
    ap.add_argument("--quick", action="store_true", help=f"smoke run (<2 min): {QUICK_TXS} txs, 100 senders")
    args = ap.parse_args()
    if args.quick:
        args.txs, args.senders = QUICK_TXS, min(args.senders, 100)
    if args.txs < 1 or args.senders < 1 or args.clients < 1 or args.rounds < 1:
        ap.error("--txs, --senders, --clients and --rounds must be positive")
    args.senders = min(args.senders, args.txs)
    args.abci_cli = find_abci_cli(args.abci_cli)
    raise_on_signals()

    preset = load_preset()
    t_build = time.perf_counter()
    wallets = make_wallets(args.senders, b"testnet-bench-sender")
    g_txs = gradchain_txs(wallets, args.txs, CHAIN_ID, preset["auth"], FEE)
    k_txs = kvstore_txs(g_txs)
    t_build = time.perf_counter() - t_build
    sizes = [len(tx) for _, tx in g_txs]
    print(f"testnet throughput bench: {VALIDATORS} validators on 127.0.0.1 per app; {args.txs} txs per app "
          f"({min(sizes)}-{max(sizes)} bytes, mean {statistics.mean(sizes):.1f}, same for all), {args.senders} "
          f"senders x up to {-(-args.txs // args.senders)} sequential txs, {args.clients} clients round-robin "
          f"over the {VALIDATORS} nodes, broadcast_tx_sync, "
          f"{'rate ' + format(args.rate, 'g') + ' tx/s' if args.rate else 'unpaced'}, timeout_commit "
          f"{args.timeout_commit}; txs built in {t_build:.1f}s; "
          f"cometbft {find_cometbft()}; abci-cli {args.abci_cli}; {os.cpu_count()} cpus",
          flush=True)

    apps = ["kvstore-socket", "gradchain", "kvstore"]
    rounds = run_rounds(apps, args.rounds, "gradchain-testnet-tput-", args.keep,
                        lambda name, where: run_app(name, where, wallets, g_txs if name == "gradchain" else k_txs, args),
                        lambda name: f"{name} testnet", timed=True)
    if rounds is None:
        return 130

    print()
    print("seconds: first submission -> poller saw the results of the last block holding a bench tx (node0);")
    print("tx/s = committed / seconds; blocks = blocks holding bench txs (txs/block mean, max); submit s = time")
    print("to submit all txs. Block interval from header times; commit latency = seen committed on node0 -")
    print("sent; both over the blocks / txs of the run (see --help).")
    vs_socket, vs_builtin, socket_vs_builtin, lat_ratios, mem_ratios = [], [], [], [], []
    for r, got in enumerate(rounds):
        if args.rounds > 1:
            print(f"-- round {r + 1}")
        g, s, k = got["gradchain"], got["kvstore-socket"], got["kvstore"]
        print_results([g, s, k], args)
        vs_socket.append(g.tps / s.tps)
        vs_builtin.append(g.tps / k.tps)
        socket_vs_builtin.append(s.tps / k.tps)
        lat_ratios.append(percentile(g.latencies, 50) / percentile(s.latencies, 50))
        mem_ratios.append(statistics.mean(sum(m.values()) for m in g.rss_max)
                          / statistics.mean(sum(m.values()) for m in s.rss_max))
    print()
    print_ratio("ratio gradchain/kvstore-socket (committed tx/s)", vs_socket)
    print_ratio("ratio gradchain/kvstore (committed tx/s)", vs_builtin)
    print_ratio("ratio kvstore-socket/kvstore (committed tx/s: the socket transport's cost)", socket_vs_builtin)
    print_ratio("ratio gradchain/kvstore-socket (commit latency p50)", lat_ratios)
    print_ratio("ratio gradchain/kvstore-socket (RSS per node, mean of max, app+cometbft)", mem_ratios)
    # the closing lines (committed tx/s, 4-validator testnet; the median over rounds)
    print(f"ratio admission_vs_socket_kvstore {statistics.median(vs_socket):.3f}")
    print(f"ratio admission_vs_builtin_kvstore {statistics.median(vs_builtin):.3f}")
    return print_verdict([x for got in rounds for x in got.values()])


if __name__ == "__main__":
    sys.exit(main())
