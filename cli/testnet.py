"""`gradchain testnet ...`: a local multi-validator network on loopback."""
from __future__ import annotations

from pathlib import Path

import click

from cli.common import emit, friendly, load_preset, password

DEFAULT_ROOT = Path.home() / ".gradchain-testnet"


def _root(ctx) -> Path:
    return Path(ctx.obj["testnet_root"])


@click.group()
@click.option("--root", type=click.Path(file_okay=False), default=str(DEFAULT_ROOT), show_default=True,
              help="Folder holding the testnet's node homes, keyring and logs.")
@click.pass_context
def testnet(ctx, root):
    """Run N validators on this machine."""
    ctx.obj["testnet_root"] = root


@testnet.command("init")
@click.option("--validators", "-n", default=4, show_default=True, type=click.IntRange(1, 20))
@click.option("--chain-id", default="gradchain-testnet", show_default=True)
@click.option("--port-base", default=27000, show_default=True, help="Node i uses ports BASE+10*i ... +5.")
@click.option("--timeout-commit", default=None, help="CometBFT block interval, e.g. 500ms (preset: 1s).")
@click.option("--preset", default="local", show_default=True)
@click.option("--snapshot-interval", default=100, show_default=True, type=click.IntRange(0),
              help="Every node takes a state sync snapshot every N heights (0: none); see add-node --state-sync.")
@click.pass_context
@friendly
def testnet_init(ctx, validators, chain_id, port_base, timeout_commit, preset, snapshot_interval):
    """Write a ready network: node homes, one genesis, bonded operators, a funded faucet."""
    from abci_app.testnet import init_testnet
    from client.wallet import Keyring
    root = _root(ctx)
    settings = load_preset(preset)
    ring = Keyring(root / "keyring")
    secret = password(ctx, confirm=True)
    names = [f"validator{i}" for i in range(validators)] + [settings["faucet"]["key"]]
    wallets = {name: ring.add(name, secret) for name in names}
    manifest = init_testnet(root, validators, chain_id, settings, [wallets[n].address_bytes for n in names[:-1]],
                            wallets[names[-1]].address_bytes, port_base, timeout_commit,
                            snapshot_interval=snapshot_interval)
    emit(ctx, {"root": str(root), **manifest, "faucet": wallets[names[-1]].address},
         f"testnet {chain_id} with {validators} validators in {root}\n"
         + "\n".join(f"  {n['name']}: rpc http://127.0.0.1:{n['rpc']}  p2p {n['p2p']}  metrics "
                     f"{n['metrics']} (app), {n['prometheus']} (cometbft)" for n in manifest["nodes"])
         + f"\nfaucet: {wallets[names[-1]].address} (key {names[-1]!r} in {root / 'keyring'})"
         + f"\nnext: gradchain testnet --root {root} start")


@testnet.command("start")
@click.pass_context
@friendly
def testnet_start(ctx):
    """Start every node in the background (logs: <root>/node<i>/)."""
    from abci_app.testnet import start_testnet
    pids = start_testnet(_root(ctx))
    emit(ctx, {"pids": pids}, f"started {len(pids)} nodes; check with `gradchain testnet --root {_root(ctx)} status`")


@testnet.command("stop")
@click.pass_context
@friendly
def testnet_stop(ctx):
    """Stop every node cleanly."""
    from abci_app.testnet import stop_testnet
    stopped = stop_testnet(_root(ctx))
    emit(ctx, {"stopped": stopped}, f"stopped {stopped} nodes")


@testnet.command("status")
@click.pass_context
@friendly
def testnet_status(ctx):
    """Per node: height, peers, app hash, catching up, voting power."""
    from abci_app.testnet import testnet_status as status
    rows = status(_root(ctx))
    lines = [f"{'node':7} {'up':3} {'height':>7} {'peers':>5} {'power':>5} {'catching_up':11} app_hash"]
    for r in rows:
        lines.append(f"{r['name']:7} {'yes' if r['running'] else 'no':3} {r['height'] if r['height'] is not None else '-':>7} "
                     f"{r['peers'] if r['peers'] is not None else '-':>5} {r['power'] if r['power'] is not None else '-':>5} "
                     f"{str(r['catching_up']) if r['catching_up'] is not None else '-':11} {r['app_hash'] or '-'}")
    emit(ctx, rows, "\n".join(lines))


@testnet.command("add-node")
@click.option("--state-sync", is_flag=True,
              help="Join from a recent snapshot of the running testnet (trusting node 0's header at its height) "
                   "instead of replaying every block.")
@click.pass_context
@friendly
def testnet_add_node(ctx, state_sync):
    """Add a full node that syncs from the others (make it a validator with `tx validators create`)."""
    from abci_app.testnet import add_full_node
    node = add_full_node(_root(ctx), state_sync=state_sync)
    how = (f" by state sync from height {node['state_sync']['trust_height']} (trusted hash "
           f"{node['state_sync']['trust_hash']})" if state_sync else "")
    emit(ctx, node, f"added {node['name']} (rpc http://127.0.0.1:{node['rpc']}){how}; start it with "
                    f"`gradchain testnet --root {_root(ctx)} start`")
