"""Test-side helpers for real nodes: free ports, RPC, waiting for blocks, starting and stopping processes.

Typical integration test:

    ports = free_node_ports()
    init_node(tmp_path / "n0", "n0", "test-1", app_state, ports=ports, timeout_commit="200ms")
    with running_node(tmp_path / "n0") as node:        # `python -m abci_app.node` as a child process
        wait_for_height(node.rpc, 3)
        res = broadcast_tx_commit(node.rpc, tx_bytes)

or, with an in-test Application object served in-process: `serve_in_thread(app, chain_id)` plus
`running_cometbft(home)`.
"""
from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from abci_app.node import find_cometbft
from abci_app.ports import free_port_base, free_ports  # noqa: F401 (re-exported for tests)
from abci_app.settings import Ports, cometbft_home, cometbft_log_path, app_log_path

ROOT = Path(__file__).resolve().parent.parent


def free_node_ports() -> Ports:
    p2p, rpc, abci, prometheus, metrics = free_ports(5)
    return Ports(p2p=p2p, rpc=rpc, abci=abci, prometheus=prometheus, metrics=metrics)


def rpc_url(home: Path) -> str:
    """The RPC address init_node wrote into this node's config.toml."""
    import tomlkit
    config = tomlkit.parse((cometbft_home(home) / "config" / "config.toml").read_text())
    return str(config["rpc"]["laddr"]).replace("tcp://", "http://")


# --- RPC -----------------------------------------------------------------------------------------
class RpcError(RuntimeError):
    pass


def rpc(url: str, method: str, timeout: float = 30, **params) -> dict:
    """JSON-RPC call; returns `result`, raises RpcError on an `error` reply."""
    reply = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params},
                       timeout=timeout).json()
    if "error" in reply:
        raise RpcError(f"{method}: {reply['error']}")
    return reply["result"]


def height(url: str) -> int:
    return int(rpc(url, "status", timeout=5)["sync_info"]["latest_block_height"])


def wait_for_height(url: str, target: int, timeout: float = 60, proc: subprocess.Popen | None = None) -> int:
    """Poll /status until latest_block_height >= target. Fails fast if `proc` (the node) has exited."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"node process exited with code {proc.returncode} before height {target}")
        try:
            h = height(url)
            if h >= target:
                return h
        except (httpx.HTTPError, RpcError, KeyError, ValueError) as e:
            last_error = e
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not reach height {target} within {timeout}s (last error: {last_error})")


def broadcast_tx_commit(url: str, tx: bytes, timeout: float = 30) -> dict:
    """Result of broadcast_tx_commit: check_tx, tx_result, hash, height."""
    return rpc(url, "broadcast_tx_commit", timeout=timeout, tx=base64.b64encode(tx).decode())


def abci_query(url: str, path: str, data: bytes = b"", prove: bool = False) -> dict:
    return rpc(url, "abci_query", path=path, data=data.hex(), prove=prove)["response"]


# --- processes -----------------------------------------------------------------------------------
def stop_process(proc: subprocess.Popen, timeout: float = 15) -> int:
    """SIGTERM, wait, then SIGKILL. Returns the exit code (negative: killed by that signal)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no {path})"


@dataclass
class RunningNode:
    home: Path
    proc: subprocess.Popen
    rpc: str

    def logs(self) -> str:
        return (f"--- {app_log_path(self.home)}\n{log_tail(app_log_path(self.home))}\n"
                f"--- {cometbft_log_path(self.home)}\n{log_tail(cometbft_log_path(self.home))}")


@contextlib.contextmanager
def running_node(home: Path):
    """`python -m abci_app.node --home home` (app + CometBFT) for the duration of the block.

    On exit: SIGTERM and wait; the test fails if the node did not stop cleanly (exit code 0), or if it
    had already exited with an error. A node the test itself killed with a signal (kill -9 recovery
    tests) is fine. Logs are printed when the block raises, so a failing test shows why.
    """
    home = Path(home)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open(home / "node.stderr", "ab") as err:
        proc = subprocess.Popen([sys.executable, "-m", "abci_app.node", "--home", str(home)],
                                cwd=ROOT, env=env, stdout=err, stderr=err)
    node = RunningNode(home=home, proc=proc, rpc=rpc_url(home))
    try:
        yield node
    except BaseException:
        print(node.logs())
        raise
    finally:
        killed_by_test = proc.poll() is not None and proc.returncode < 0
        code = stop_process(proc)
    if code != 0 and not killed_by_test:
        raise AssertionError(f"node exited with code {code}\n{node.logs()}")


@contextlib.contextmanager
def running_cometbft(home: Path):
    """Only CometBFT, for a home whose app is served some other way (e.g. serve_in_thread)."""
    home = Path(home)
    with open(cometbft_log_path(home), "ab") as out:
        proc = subprocess.Popen([str(find_cometbft()), "start", "--home", str(cometbft_home(home))],
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    except BaseException:
        print(log_tail(cometbft_log_path(home)))
        raise
    finally:
        stop_process(proc)


@contextlib.contextmanager
def serve_in_thread(app, chain_id: str, port: int = 0):
    """An AbciServer for `app` on its own event loop thread; yields the server (read .port).

    Only that thread ever calls the app. On exit the server stops; if the app crashed, AppCrashed is
    raised here so the test fails.
    """
    from abci_app.server import AbciServer

    loop = asyncio.new_event_loop()
    started = threading.Event()
    outcome: dict = {}
    holder: dict = {}

    async def main():
        server = AbciServer(app, chain_id, "127.0.0.1", port)
        await server.start()
        holder["server"] = server
        started.set()
        await server.serve()

    def run():
        try:
            loop.run_until_complete(main())
        except BaseException as e:  # reported to the test thread below
            outcome["error"] = e
        finally:
            started.set()
            loop.close()

    thread = threading.Thread(target=run, name="abci-server", daemon=True)
    thread.start()
    started.wait(10)
    if "server" not in holder:
        thread.join(5)
        raise RuntimeError(f"ABCI server did not start: {outcome.get('error')!r}")
    server = holder["server"]
    try:
        yield server
    finally:
        if not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(server.stop)
        thread.join(10)
    if "error" in outcome:
        raise outcome["error"]



@contextlib.contextmanager
def preset_testnet(home: Path, validators: int, chain_id: str, operators, faucet, timeout_commit: str = "300ms"):
    """A local testnet of `validators` nodes from config/local.toml, started, every node past height 2;
    yields their RPC URLs and stops them afterwards."""
    import tomllib
    from abci_app.testnet import init_testnet, start_testnet, stop_testnet
    preset = tomllib.loads((Path(__file__).resolve().parent.parent / "config/local.toml").read_text())
    manifest = init_testnet(home, validators, chain_id, preset, [w.address_bytes for w in operators],
                            faucet.address_bytes, port_base=free_port_base(60), timeout_commit=timeout_commit)
    urls = [f"http://127.0.0.1:{n['rpc']}" for n in manifest["nodes"]]
    start_testnet(home)
    try:
        for url in urls:
            wait_for_height(url, 2, timeout=90)
        yield urls
    finally:
        stop_testnet(home)


def app_hashes_by_height(urls: list[str], start: int) -> dict[int, set[str]]:
    """Height -> the set of app hashes the nodes' signed headers carry, from `start` to the lowest node's top:
    one element per height when they agree."""
    top = min(height(u) for u in urls)
    return {h: {rpc(u, "commit", height=str(h))["signed_header"]["header"]["app_hash"] for u in urls}
            for h in range(start, top + 1)}


def served_updates(url: str, result: dict) -> dict[tuple[int, int], bytes]:
    """(round, seq) -> the opened update /rounds/update serves for every submission of a demo_training run."""
    out = {}
    for r in result["history"]:
        for s in r["info"]["submission_list"]:
            data = result["model_id"].to_bytes(8, "big") + r["round"].to_bytes(8, "big") + s["seq"].to_bytes(8, "big")
            out[(r["round"], s["seq"])] = base64.b64decode(abci_query(url, "/rounds/update", data).get("value") or "")
    return out
