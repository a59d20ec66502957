"""Join time of a new full node by state sync, as a ratio to block sync, on the same chain.

One 2-validator loopback testnet (abci_app.testnet: each node `python -m abci_app.node`, LevelDB state,
its cometbft child) with every validator taking a snapshot every --interval heights. The chain is grown to
--blocks blocks, with --accounts funded accounts in its state (faucet transfers at the start), then:
  1. block sync: `add_full_node(root)`, started; the clock runs from its start to the moment its RPC reports
     a height >= the validators' height at its start (target). It replays every block from 1.
  2. state sync: `add_full_node(root, state_sync=True)` (trust height and hash from node 0's RPC at the
     latest usable snapshot height), started; same clock and target rule. It restores a snapshot
     (CometBFT's discovery_time 5s included: gradchain writes discovery_time = 5s, CometBFT's minimum),
     then block-syncs the blocks after the snapshot.
The two joins run one after the other on the same running chain (the first joiner is stopped first), so the
second target is a little higher. Printed: both join times, the heights, and
    ratio state_sync_vs_block_sync X      (state sync seconds / block sync seconds; lower is better)

    .venv/bin/python bench/state_sync.py               # 2000 blocks
    .venv/bin/python bench/state_sync.py --quick       # 200 blocks
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from abci_app.testnet import add_full_node, init_testnet, start_node, start_testnet, stop_node, stop_testnet  # noqa: E402
from abci_app.ports import free_port_base  # noqa: E402
from client import Client  # noqa: E402
from client.wallet import Wallet  # noqa: E402


def height(url: str) -> int:
    try:
        reply = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "status"}, timeout=5).json()
        return int(reply["result"]["sync_info"]["latest_block_height"])
    except (httpx.HTTPError, KeyError, ValueError):
        return 0


def wait_height(url: str, target: int, timeout: float) -> float:
    start = time.perf_counter()
    while height(url) < target:
        if time.perf_counter() - start > timeout:
            raise SystemExit(f"{url} did not reach height {target} within {timeout}s")
        time.sleep(0.1)
    return time.perf_counter() - start


def join(root: Path, node0: str, state_sync: bool, timeout: float) -> tuple[float, int, int]:
    node = add_full_node(root, state_sync=state_sync)
    url = f"http://127.0.0.1:{node['rpc']}"
    target = height(node0)
    started = time.perf_counter()
    start_node(Path(node["home"]))
    try:
        wait_height(url, target, timeout)
        seconds = time.perf_counter() - started
        earliest = int(httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "status"}, timeout=5)
                       .json()["result"]["sync_info"]["earliest_block_height"])
    finally:
        stop_node(Path(node["home"]))
    return seconds, target, earliest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blocks", type=int, default=2000)
    parser.add_argument("--interval", type=int, default=200, help="snapshot interval (heights)")
    parser.add_argument("--accounts", type=int, default=500)
    parser.add_argument("--timeout-commit", default="20ms")
    parser.add_argument("--port-base", type=int, default=0, help="0: a free range")
    parser.add_argument("--quick", action="store_true", help="200 blocks, interval 50, 100 accounts")
    args = parser.parse_args()
    if args.quick:
        args.blocks, args.interval, args.accounts = 200, 50, 100
    operators = [Wallet.from_seed(bytes([0x70 + i]) * 32) for i in range(2)]
    faucet = Wallet.from_seed(b"\x7f" * 32)
    preset = tomllib.loads((ROOT / "config/local.toml").read_text())
    with tempfile.TemporaryDirectory(prefix="bench-state-sync-") as tmp:
        root = Path(tmp)
        manifest = init_testnet(root, 2, "bench-sync", preset, [w.address_bytes for w in operators],
                                faucet.address_bytes, port_base=args.port_base or free_port_base(40), timeout_commit=args.timeout_commit,
                                snapshot_interval=args.interval)
        node0 = f"http://127.0.0.1:{manifest['nodes'][0]['rpc']}"
        node1 = f"http://127.0.0.1:{manifest['nodes'][1]['rpc']}"
        start_testnet(root)
        try:
            wait_height(node0, 2, 120)
            wait_height(node1, 2, 120)
            grow = time.perf_counter()
            with Client(node0, timeout=30) as c:
                for i in range(args.accounts):
                    c.send(faucet, Wallet.from_seed(i.to_bytes(4, "big") * 8).address, {"ugrad": 1000},
                           wait=i == args.accounts - 1)
            wait_height(node0, args.blocks, 3600)
            print(f"chain grown to {height(node0)} blocks with {args.accounts} funded accounts in "
                  f"{time.perf_counter() - grow:.0f}s (timeout_commit {args.timeout_commit}, snapshot every "
                  f"{args.interval})", flush=True)
            block_s, block_target, block_earliest = join(root, node0, False, 3600)
            print(f"block sync: {block_s:.1f}s to height {block_target} (earliest block {block_earliest})", flush=True)
            state_s, state_target, state_earliest = join(root, node0, True, 3600)
            print(f"state sync: {state_s:.1f}s to height {state_target} (earliest block {state_earliest})", flush=True)
        finally:
            stop_testnet(root)
    print(f"ratio state_sync_vs_block_sync {state_s / block_s:.3f}")


if __name__ == "__main__":
    main()
