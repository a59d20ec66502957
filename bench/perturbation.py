"""What faults over real links cost: block interval on slow lossy links, recovery after a partition, catch-up
after a pause. Every node in its own network namespace (tests/netns.py; needs root), transfer load on.

Two 4-validator testnets, one after the other, `timeout_commit` 500 ms:
  direct   routed veth links, no delay. Measured: block interval p50 over --blocks blocks (the baseline);
           then a 2|2 partition held --hold seconds and healed: seconds from the heal to the next block on
           every node; then one validator paused (SIGSTOP) for --pause seconds: seconds from SIGCONT until it
           reports the others' height.
  relayed  every peer connection through the slow-link relay (tests/linkproxy.py): 100 ms +- 20 ms each
           way per hop, 1% of segments held back one 200 ms RTO. Measured: block interval p50.
Printed as ratios to the direct block interval of the same run:
    ratio netem_block_interval_vs_direct X
    ratio partition_heal_to_block_vs_interval X
    ratio pause_catch_up_vs_pause X            (catch-up seconds / seconds paused)

    sudo .venv/bin/python bench/perturbation.py            # 40 blocks, 20 s partition, 30 s pause
    sudo .venv/bin/python bench/perturbation.py --quick    # 15 blocks, 8 s, 10 s
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from client.wallet import Wallet  # noqa: E402
from loadgen import TransferLoad  # noqa: E402
from netns import NetnsTestnet, netns_available  # noqa: E402
from nodeutil import height, rpc, wait_for_height  # noqa: E402

OPERATORS = [Wallet.from_seed(bytes([0x30 + i]) * 32) for i in range(4)]
FAUCET = Wallet.from_seed(b"\x3f" * 32)


def block_interval_p50(url: str, blocks: int) -> float:
    """Median seconds between consecutive header times over the next `blocks` blocks."""
    start = height(url)
    wait_for_height(url, start + blocks + 1, timeout=30 * blocks)
    times = [_header_time(url, h) for h in range(start + 1, start + blocks + 2)]
    return statistics.median(b - a for a, b in zip(times, times[1:]))


def _header_time(url: str, h: int) -> float:
    stamp = rpc(url, "commit", height=str(h))["signed_header"]["header"]["time"]
    whole, _, frac = stamp.rstrip("Z").partition(".")
    return time.mktime(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) + float("0." + (frac or "0"))


def run_direct(blocks: int, hold: float, pause: float) -> tuple[float, float, float]:
    with tempfile.TemporaryDirectory() as tmp, \
            NetnsTestnet(Path(tmp), 4, "bench-direct", OPERATORS, FAUCET, timeout_commit="500ms") as net:
        for url in net.urls:
            wait_for_height(url, 2, timeout=120)
        with TransferLoad(net.urls, FAUCET, seed=0x50):
            interval = block_interval_p50(net.urls[0], blocks)
            net.partition([0, 1], [2, 3])
            time.sleep(hold)
            stalled = [height(u) for u in net.urls]
            healed = time.monotonic()
            net.heal()
            for url, h in zip(net.urls, stalled):
                wait_for_height(url, max(stalled) + 1, timeout=120)
            heal_s = time.monotonic() - healed
            net.pause(3)
            time.sleep(pause)
            resumed = time.monotonic()
            net.resume(3)
            wait_for_height(net.urls[3], height(net.urls[0]), timeout=300)
            catch_up = time.monotonic() - resumed
        return interval, heal_s, catch_up


def run_relayed(blocks: int) -> float:
    with tempfile.TemporaryDirectory() as tmp, \
            NetnsTestnet(Path(tmp), 4, "bench-netem", OPERATORS, FAUCET, timeout_commit="500ms",
                         links=(100, 20, 0.01)) as net:
        for url in net.urls:
            wait_for_height(url, 2, timeout=120)
        with TransferLoad(net.urls, FAUCET, seed=0x58):
            return block_interval_p50(net.urls[0], blocks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if (why := netns_available()) is not None:
        sys.exit(f"bench/perturbation.py: {why}")
    blocks, hold, pause = (15, 8.0, 10.0) if args.quick else (40, 20.0, 30.0)
    interval, heal_s, catch_up = run_direct(blocks, hold, pause)
    slow = run_relayed(blocks)
    print(f"direct links: block interval p50 {interval:.3f} s; 2|2 partition held {hold:.0f} s, heal to next "
          f"block on every node {heal_s:.2f} s; paused {pause:.0f} s, caught up {catch_up:.2f} s after SIGCONT")
    print(f"100 +- 20 ms, 1% loss per hop: block interval p50 {slow:.3f} s")
    print(f"ratio netem_block_interval_vs_direct {slow / interval:.3f}")
    print(f"ratio partition_heal_to_block_vs_interval {heal_s / interval:.3f}")
    print(f"ratio pause_catch_up_vs_pause {catch_up / pause:.3f}")


if __name__ == "__main__":
    main()
