"""Shared pieces of the node benchmarks (bench/throughput.py, bench/testnet_throughput.py): pre-built
load (signed gradchain transfers and same-size kvstore txs), the CometBFT settings both apps get,
process helpers (/proc CPU and RSS, stopping), JSON-RPC, signal handling, small statistics. The measured
part they share (client threads, the block poller, the result, the ratio lines) is bench/_measure.py."""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import tomlkit  # noqa: E402

from abci_app.node import COMETBFT_VERSION  # noqa: E402
from abci_app.ports import free_port_base, free_ports  # noqa: E402,F401 (re-exported)
from chain.bank.messages import MsgSend  # noqa: E402
from client.txbuilder import coins, sign_tx  # noqa: E402
from client.wallet import Wallet  # noqa: E402

PARAMS = {"fee_denom": "ugrad", "min_fee_base": 100, "min_fee_per_byte": 1, "max_tx_bytes": 65536}
FEE = 1000  # > min_fee_base + min_fee_per_byte * len(tx) for these ~170-byte txs (checked below)


# --- load: pre-built txs -----------------------------------------------------------------------------
def make_wallets(n: int, tag: bytes = b"throughput-bench") -> list[Wallet]:
    return [Wallet.from_seed(hashlib.sha256(tag + b"-%d" % i).digest()) for i in range(n)]


def gradchain_txs(wallets: list[Wallet], n_txs: int, chain_id: str, params: dict = PARAMS,
                  fee: int = FEE) -> list[tuple[int, bytes]]:
    """(sender index, tx) in submission order: round-robin over senders, sequences 0, 1, 2, ...
    Each tx sends 1..7 ugrad to the next wallet in the ring."""
    out, seq = [], 0
    while len(out) < n_txs:
        for i, w in enumerate(wallets):
            if len(out) == n_txs:
                break
            to = wallets[(i + 1) % len(wallets)]
            msg = MsgSend(to_address=to.address_bytes, amount=coins({"ugrad": 1 + seq % 7}))
            raw = sign_tx(w, chain_id, seq, [msg], params["fee_denom"], fee)
            assert fee >= int(params["min_fee_base"]) + int(params["min_fee_per_byte"]) * len(raw), "raise FEE"
            out.append((i, raw))
        seq += 1
    return out


def kvstore_txs(shape: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
    """Unique `key=value` txs with the same lane (sender) and the same length as each gradchain tx."""
    out = []
    for n, (lane, raw) in enumerate(shape):
        head = b"k%07d=" % n
        pad = len(raw) - len(head)
        assert pad >= 1
        value = (hashlib.sha256(b"%d" % n).hexdigest().encode() * (pad // 64 + 1))[:pad]
        tx = head + value
        assert len(tx) == len(raw) and tx.count(b"=") == 1 and b":" not in tx
        out.append((lane, tx))
    return out


# --- config ------------------------------------------------------------------------------------------
def set_key(doc, dotted: str, value) -> None:
    *tables, key = dotted.split(".")
    for name in tables:
        doc = doc[name]
    if key not in doc:
        raise KeyError(f"config.toml has no {dotted!r}")
    doc[key] = value


def shared_settings(timeout_commit: str, mempool_txs: int) -> list[tuple[str, object]]:
    """The CometBFT settings every benchmarked node gets, whatever its app (ports excluded)."""
    pool = max(10000, mempool_txs)
    return [
        ("p2p.addr_book_strict", False),
        ("p2p.allow_duplicate_ip", True),
        ("consensus.timeout_commit", timeout_commit),
        ("consensus.create_empty_blocks", True),
        ("mempool.size", pool),
        ("mempool.cache_size", pool),
        ("mempool.max_txs_bytes", 1 << 30),
        ("mempool.recheck", True),  # gradchain needs it: its check state is rebuilt by the recheck
        ("instrumentation.prometheus", False),
        ("log_level", "info"),
    ]


def edit_config(cmt_home: Path, settings: list[tuple[str, object]]) -> None:
    path = Path(cmt_home) / "config" / "config.toml"
    doc = tomlkit.parse(path.read_text())
    for key, value in settings:
        set_key(doc, key, value)
    path.write_text(tomlkit.dumps(doc))


def parse_duration(text: str) -> float:
    for unit, scale in (("ms", 1e-3), ("s", 1.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * scale
    return float(text)


# --- processes ---------------------------------------------------------------------------------------
def find_abci_cli(given: str | None = None) -> Path:
    """CometBFT's `abci-cli` (its `kvstore` over an ABCI socket is a baseline): `given`, else PATH, else
    .bin/abci-cli (scripts/setup.sh builds it from cometbft v0.38.25). Its `version` reports only the ABCI
    version, so when Go is at hand the module version is read from the binary's build info."""
    candidates = [given] if given else [shutil.which("abci-cli"), str(ROOT / ".bin" / "abci-cli")]
    for c in candidates:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            path = Path(c)
            break
    else:
        raise SystemExit(f"abci-cli not found ({given or 'PATH, .bin/abci-cli'}); run scripts/setup.sh, "
                         f"or pass --abci-cli PATH")
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").is_file() else None)
    if go:
        info = subprocess.run([go, "version", "-m", str(path)], capture_output=True, text=True).stdout
        mods = [line.split() for line in info.splitlines() if line.strip().startswith("mod")]
        if mods and mods[0][1:3] != ["github.com/cometbft/cometbft", "v" + COMETBFT_VERSION]:
            raise SystemExit(f"{path} is built from {' '.join(mods[0][1:3])}, not cometbft v{COMETBFT_VERSION}; "
                             f"run scripts/setup.sh")
    return path


def stop_process(proc: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM and wait; SIGKILL after `timeout` or on a second Ctrl-C."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        except KeyboardInterrupt:
            proc.kill()
            proc.wait()
            raise


def wait_listening(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with code {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def proc_tree(root: int) -> list[int]:
    """root and its descendants (Linux /proc); [] elsewhere."""
    parents: dict[int, list[int]] = {}
    try:
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                ppid = int(stat[stat.rindex(")") + 2:].split()[1])
                parents.setdefault(ppid, []).append(int(entry))
    except OSError:
        return []
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(parents.get(pid, []))
    return out


def proc_name(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.index("(") + 1:stat.rindex(")")]


def proc_alive(pid: int) -> bool:
    """Running and not a zombie (a child that exited but was not reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:].split()[0] not in ("Z", "X")


def cpu_seconds(pids: list[int]) -> dict[int, tuple[str, float]]:
    """pid -> (command name, user+system CPU seconds so far)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        out[pid] = (name, (int(fields[11]) + int(fields[12])) / tick)
    return out


def vm_rss_kib(pid: int) -> int | None:
    """Resident set size from /proc/<pid>/status (VmRSS, KiB); None if the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


@contextlib.contextmanager
def signals_deferred():
    """Hold off SIGINT/SIGTERM (main thread only) until the block is done, then raise KeyboardInterrupt
    if one came: a process started inside is always recorded (so it gets stopped), and a cleanup
    inside is not cut short by a second Ctrl-C. Python-level handlers, not the signal mask: children
    inherit a blocked mask across exec, and a node started with SIGTERM blocked would ignore stop."""
    pending = []
    sigs = (signal.SIGINT, signal.SIGTERM)
    old = {s: signal.signal(s, lambda signum, frame: pending.append(signum)) for s in sigs}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        if pending:
            raise KeyboardInterrupt


def raise_on_signals() -> None:
    """SIGINT and SIGTERM -> KeyboardInterrupt, so finally blocks stop the nodes (also when SIGINT was
    inherited as ignored, e.g. started in the background by a non-interactive shell)."""
    def on_signal(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)


# --- RPC and logs ------------------------------------------------------------------------------------
def rpc_get(http: httpx.Client, url: str, method: str, **params) -> dict:
    body = http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).json()
    if "error" in body:
        raise LookupError(f"{method}: {body['error']}")
    return body["result"]


def finalize_ms_by_height(log_path: Path) -> dict[int, float]:
    """gradchain's "finalized block" lines in app.log: height -> FinalizeBlock ms."""
    out = {}
    try:
        with open(log_path) as f:
            for line in f:
                if '"finalized block"' in line:
                    entry = json.loads(line)
                    out[int(entry["height"])] = float(entry["ms"])
    except (OSError, ValueError):
        pass
    return out


# --- statistics --------------------------------------------------------------------------------------
def percentile(values, p: float) -> float:
    """Nearest-rank percentile (p in 0..100): the smallest value with at least p% of values <= it."""
    xs = sorted(values)
    if not xs:
        return float("nan")
    return xs[max(0, math.ceil(p / 100 * len(xs)) - 1)]
