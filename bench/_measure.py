"""The measured part the two node benchmarks (bench/throughput.py, bench/testnet_throughput.py) share:
the submitting client threads, the poller that confirms every tx committed, the result both fill in,
and the closing `ratio ...` lines.

* Submitters: one thread per client lane, each with one keep-alive HTTP connection (httpx), POSTing its
  lane's pre-built JSON-RPC bodies in order; unpaced, or paced to `interval` seconds per tx per lane.
  The clock starts at the first thread's first submission; each tx's send time is kept (for latency).
* poll_committed: reads /block_results?height=h, then /block?height=h, for every new height h from one
  node. After a block it tries h+1 at once, then idles until timeout_commit/2 after the last block (no
  block can come sooner), then polls every 10 ms. A tx is matched by the SHA-256 of its bytes and must
  be found with result code 0. It stops when every tx is accounted for (committed, or refused by CheckTx
  or the RPC once all are submitted), or after `stall_timeout` s without a new block.
* run_rounds: every app once per round, alternating the order each round, on fresh homes in a temp dir
  (kept with --keep); Ctrl-C stops the nodes and ends the run.
* LoadResult: seconds = first submission -> the moment the poller saw the results of the last block
  holding a bench tx; tx/s = committed / seconds (all txs, in a valid run).
"""
from __future__ import annotations

import base64
import hashlib
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import httpx

from _load import rpc_get


@dataclass
class LoadResult:
    app: str
    txs: int
    start_height: int = 0                               # the last block before the load started
    seconds: float = float("nan")
    submit_seconds: float = float("nan")
    committed: int = 0
    rejected: int = 0
    failed: int = 0
    bad_code: int = 0
    first_errors: list = field(default_factory=list)
    block_txs: dict = field(default_factory=dict)       # height -> bench txs in it (blocks holding any)
    header_time: dict = field(default_factory=dict)     # height -> header time (unix seconds), every polled block
    latencies: list = field(default_factory=list)       # seconds, per committed tx: seen committed - sent
    cpu: dict = field(default_factory=dict)             # process or group -> CPU seconds during the run
    finalize_ms: list = field(default_factory=list)     # gradchain: FinalizeBlock ms of blocks with bench txs

    @property
    def tps(self) -> float:
        return self.committed / self.seconds if self.seconds == self.seconds and self.seconds > 0 else float("nan")

    @property
    def blocks(self) -> int:
        return len(self.block_txs)

    @property
    def block_heights(self) -> list[int]:
        return sorted(self.block_txs)

    @property
    def span_blocks(self) -> int:
        """Blocks from the first submission to the last block holding a bench tx."""
        return max(self.block_txs) - self.start_height if self.block_txs else 0

    @property
    def missing(self) -> int:
        return max(self.txs - self.committed - self.rejected - self.failed, 0)

    @property
    def valid(self) -> bool:
        return self.committed == self.txs and not (self.rejected or self.failed or self.bad_code)


def jsonrpc_lanes(lanes_txs: list[tuple[int, bytes]], clients: int, method: str) -> list[list[tuple[int, bytes]]]:
    """Per client k, the (tx number, JSON-RPC body) of every tx whose lane (sender) is k modulo `clients`,
    in order: a sender's txs all go through one client, in sequence order."""
    out: list[list[tuple[int, bytes]]] = [[] for _ in range(clients)]
    for n, (lane, tx) in enumerate(lanes_txs):
        out[lane % clients].append((n, json.dumps(
            {"jsonrpc": "2.0", "id": n, "method": method, "params": {"tx": base64.b64encode(tx).decode()}}).encode()))
    return out


def expected_hashes(lanes_txs: list[tuple[int, bytes]]) -> dict[bytes, int]:
    """SHA-256 of each tx -> its number (what the poller matches block txs against)."""
    expected = {hashlib.sha256(tx).digest(): n for n, (_, tx) in enumerate(lanes_txs)}
    assert len(expected) == len(lanes_txs), "txs must be unique"
    return expected


class Submitters:
    """The client threads. start() connects them (they wait), go() releases them all at once."""

    def __init__(self, urls_and_lanes: list[tuple[str, list[tuple[int, bytes]]]], n_txs: int, interval: float,
                 check_code: bool = True):
        self.interval, self.check_code = interval, check_code   # check_code: sync replies carry CheckTx's code
        self.t_submit = [float("nan")] * n_txs
        self.t0: float | None = None
        self.t_end = 0.0
        self.rejected = self.failed = self.done = 0
        self.errors: list[str] = []
        self._go, self._lock = threading.Event(), threading.Lock()
        self.threads = [threading.Thread(target=self._lane, args=(url, items), daemon=True, name=f"client-{k}")
                        for k, (url, items) in enumerate(urls_and_lanes) if items]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def go(self) -> None:
        self._go.set()

    @property
    def all_submitted(self) -> bool:
        return self.done == len(self.threads)

    def join(self, timeout: float = 60) -> None:
        for t in self.threads:
            t.join(timeout)

    def _lane(self, url: str, items: list[tuple[int, bytes]]) -> None:
        rejected = failed = 0
        errors = []
        with httpx.Client(timeout=60, headers={"content-type": "application/json"}) as http:
            self._go.wait()
            t_start = time.perf_counter()
            with self._lock:
                if self.t0 is None:
                    self.t0 = t_start
            for i, (n, body) in enumerate(items):
                if self.interval:
                    delay = t_start + i * self.interval - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                self.t_submit[n] = time.perf_counter()
                try:
                    reply = http.post(url, content=body).json()
                except (httpx.HTTPError, ValueError) as e:
                    failed += 1
                    errors.append(f"http: {e!r}")
                    continue
                if "error" in reply:
                    failed += 1
                    errors.append(f"rpc: {reply['error']}")
                elif self.check_code and int(reply["result"].get("code", 0)) != 0:
                    rejected += 1
                    errors.append(f"checktx code {reply['result']['code']}: {reply['result'].get('log', '')}")
        with self._lock:
            self.rejected += rejected
            self.failed += failed
            self.errors.extend(errors[:3])
            self.done += 1
            self.t_end = max(self.t_end, time.perf_counter())


def poll_committed(http: httpx.Client, url: str, res: LoadResult, subs: Submitters, expected: dict[bytes, int],
                   idle_wait: float, stall_timeout: float, check_alive: Callable[[str], None],
                   header_unix: Callable[[str], float] | None = None) -> None:
    """Follow the chain from res.start_height + 1 until every tx is accounted for; fills res's per-block
    and per-tx fields (block_txs, header_time if header_unix is given, latencies, bad_code, first_errors)
    and, once the submitters are done, the totals (see finish)."""
    h, found, last_seen, first_miss = res.start_height + 1, 0, None, True
    seen_prev = time.perf_counter()
    last_progress = next_alive_check = time.monotonic()
    while True:
        now = time.monotonic()
        if now >= next_alive_check:
            check_alive("during the run")
            next_alive_check = now + 0.5
        outstanding = len(expected) - found - (subs.rejected + subs.failed if subs.all_submitted else 0)
        if subs.all_submitted and outstanding <= 0:
            break
        if now - last_progress > stall_timeout:
            print(f"  ! {res.app}: no new block for {stall_timeout}s, {outstanding} txs outstanding")
            break
        try:
            results = rpc_get(http, url, "block_results", height=str(h))
        except LookupError:
            if first_miss:  # no block can come before timeout_commit after the last one
                first_miss = False
                time.sleep(max(seen_prev + idle_wait - time.perf_counter(), 0.01))
            else:
                time.sleep(0.01)
            continue
        seen_at = seen_prev = time.perf_counter()
        last_progress, first_miss = time.monotonic(), True
        block = rpc_get(http, url, "block", height=str(h))["block"]
        if header_unix is not None:
            res.header_time[h] = header_unix(block["header"]["time"])
        codes = [int(r.get("code", 0)) for r in (results.get("txs_results") or [])]
        ours = 0
        for i, b64 in enumerate(block["data"]["txs"] or []):
            n = expected.get(hashlib.sha256(base64.b64decode(b64)).digest())
            if n is None:
                continue
            ours += 1
            res.latencies.append(seen_at - subs.t_submit[n])
            if codes[i] != 0:
                res.bad_code += 1
                if len(res.first_errors) < 3:
                    res.first_errors.append(f"block {h} tx {i}: code {codes[i]} "
                                            f"{results['txs_results'][i].get('log', '')}")
        if ours:
            found += ours
            res.block_txs[h] = ours
            last_seen = seen_at
        h += 1
    res.committed = found
    res.seconds = last_seen - subs.t0 if last_seen is not None and subs.t0 is not None else float("nan")


def finish(res: LoadResult, subs: Submitters) -> None:
    """After the submitters joined: their refusals, failures and first errors, and the submit time."""
    res.rejected, res.failed = subs.rejected, subs.failed
    res.first_errors = subs.errors[:3] + res.first_errors
    res.submit_seconds = subs.t_end - subs.t0 if subs.t0 is not None else float("nan")


def run_rounds(apps: list[str], rounds: int, prefix: str, keep: bool, run_app: Callable[[str, Path], LoadResult],
               label: Callable[[str], str], timed: bool = False) -> list[dict[str, LoadResult]] | None:
    """Run every app once per round (round r in the order of `apps`, reversed on odd rounds), each with
    run_app(name, <workdir>/round<r>) which starts and stops its nodes. None if interrupted (Ctrl-C or
    SIGTERM), after saying so. The workdir is removed unless `keep`."""
    out: list[dict[str, LoadResult]] = []
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        for r in range(rounds):
            got = {}
            for name in (apps if r % 2 == 0 else apps[::-1]):
                print(f"round {r + 1}/{rounds}: {label(name)} ...", flush=True)
                t = time.perf_counter()
                got[name] = run_app(name, workdir / f"round{r + 1}")
                if timed:
                    print(f"  done in {time.perf_counter() - t:.0f} s (setup, load, stop)", flush=True)
            out.append(got)
    except KeyboardInterrupt:
        print("interrupted; nodes stopped", file=sys.stderr)
        return None
    finally:
        if keep:
            print(f"node homes kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return out


def print_ratio(label: str, values: list[float]) -> None:
    """The closing `ratio NAME: VALUE` line (with several rounds, their median and each round's value)."""
    if len(values) > 1:
        print(f"{label}: median {statistics.median(values):.3f} over {len(values)} rounds "
              f"({', '.join(f'{x:.3f}' for x in values)})")
    else:
        print(f"{label}: {values[0]:.3f}")


def print_verdict(results: list[LoadResult]) -> int:
    """Exit code 0, or 1 after saying so if any tx was rejected, failed, missing or committed with code != 0."""
    if not all(r.valid for r in results):
        print("INVALID MEASUREMENT: some txs were rejected, failed, not committed or committed with code != 0")
        return 1
    return 0
