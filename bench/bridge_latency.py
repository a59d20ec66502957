"""Bridge latency on the local setup: a real 4-validator CometBFT testnet on loopback, one orchestrator
per validator (in this process, each talking to its own node's RPC), and py-evm in process as the EVM.

Measures, per round trip:
  deposit  -> voucher: from the EVM block holding the Deposit to the vouchers being visible on a node;
  withdraw -> release: from the block committing MsgWithdraw to the ERC-20 arriving on the EVM;
in seconds and in chain blocks, and divides the seconds by the block interval measured over the same
run (chain height advance / wall time). The EVM mines one block per orchestrator pass (a fast dev
chain); orchestrators wait `--confirmations` EVM blocks. Prints medians and the ratios.

    .venv/bin/python bench/bridge_latency.py            # 5 round trips, 300ms blocks
    .venv/bin/python bench/bridge_latency.py --quick    # 1 round trip
"""
from __future__ import annotations

import argparse
import functools
import statistics
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


from chain.bridge.keeper import voucher_denom  # noqa: E402
from chain.bridge.messages import MsgWithdraw  # noqa: E402
from client.wallet import Wallet  # noqa: E402
from nodeutil import height  # noqa: E402
from relayer.evm import Evm  # noqa: E402
from relayer.testnet import bridged_testnet  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--timeout-commit", default="300ms")
    parser.add_argument("--confirmations", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="one round trip")
    args = parser.parse_args()
    rounds = 1 if args.quick else args.rounds
    operators = [Wallet.from_seed(bytes([0xA0 + i]) * 32) for i in range(4)]
    faucet = Wallet.from_seed(b"\xaf" * 32)
    preset = tomllib.loads((ROOT / "config/local.toml").read_text())
    with tempfile.TemporaryDirectory() as tmp, bridged_testnet(
            Path(tmp), "bench-bridge", preset, operators, faucet, timeout_commit=args.timeout_commit,
            confirmations=args.confirmations, token=("Bench", "BNC", 6)) as net:
        w3, deployer, token, bridge, urls, clients = net.w3, net.deployer, net.token, net.bridge, net.urls, net.clients
        drive = functools.partial(net.drive, timeout=120)
        user, recipient = w3.eth.accounts[1], w3.eth.accounts[2]
        deployer.transact(token.functions.mint(user, 10**12))
        denom = voucher_denom(w3.eth.chain_id, bytes.fromhex(token.address[2:]))
        holder = Wallet.generate()
        clients[0].send(faucet, holder.address, {"ugrad": 10_000_000})
        run_start, h_start = time.monotonic(), height(urls[0])
        rows = []
        for i in range(rounds):
            credited = clients[1].balances(holder.address).get(denom, 0)
            t0, h0 = time.monotonic(), height(urls[1])
            Evm(w3, user).deposit(bridge, token, 1_000, holder.address_bytes)
            drive(lambda: clients[1].balances(holder.address).get(denom, 0) == credited + 1_000)
            dep = (time.monotonic() - t0, height(urls[1]) - h0)
            released = token.functions.balanceOf(recipient).call()
            receipt = clients[2].submit(holder, [MsgWithdraw(
                evm_chain_id=w3.eth.chain_id, token=bytes.fromhex(token.address[2:]), amount="1000",
                evm_recipient=bytes.fromhex(recipient[2:]))])
            t1 = time.monotonic()
            drive(lambda: token.functions.balanceOf(recipient).call() == released + 1_000)
            wd = (time.monotonic() - t1, height(urls[2]) - receipt.height)
            rows.append((dep, wd))
            print(f"round {i + 1}: deposit->voucher {dep[0]:.2f}s / {dep[1]} blocks; "
                  f"withdraw->release {wd[0]:.2f}s / {wd[1]} blocks", flush=True)
        elapsed, blocks = time.monotonic() - run_start, height(urls[0]) - h_start
    interval = elapsed / max(blocks, 1)
    dep_s = statistics.median(r[0][0] for r in rows)
    dep_b = statistics.median(r[0][1] for r in rows)
    wd_s = statistics.median(r[1][0] for r in rows)
    wd_b = statistics.median(r[1][1] for r in rows)
    print(f"\nblock interval (same run): {interval * 1000:.0f} ms ({blocks} blocks in {elapsed:.1f}s; "
          f"timeout_commit {args.timeout_commit}; EVM confirmations {args.confirmations})")
    print(f"deposit  -> voucher: median {dep_s:.2f}s, {dep_b:g} blocks = {dep_s / interval:.1f} block intervals")
    print(f"withdraw -> release: median {wd_s:.2f}s, {wd_b:g} blocks = {wd_s / interval:.1f} block intervals")
    print(f"ratio deposit_vs_block_interval {dep_s / interval:.2f}")
    print(f"ratio withdraw_vs_block_interval {wd_s / interval:.2f}")


if __name__ == "__main__":
    main()
