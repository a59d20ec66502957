"""`gradchain init`, `gradchain start`, `gradchain status`: run a single node."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from cli.common import emit, friendly, keyring, load_preset, parse_coins, password, resolve_address

@click.command()
@click.option("--chain-id", default=None, help="Defaults to the preset's chain id.")
@click.option("--moniker", default="node0", show_default=True)
@click.option("--port-base", type=int, default=None,
              help="Ports BASE (p2p), BASE+1 (RPC), BASE+2 (ABCI), BASE+4 (CometBFT metrics), BASE+5 (app "
                   "metrics) instead of 26656-26661.")
@click.option("--preset", default="local", show_default=True, help="A file config/<preset>.toml.")
@click.option("--account", "accounts", multiple=True, metavar="ADDRESS_OR_KEY=COINS",
              help="Extra genesis balance, e.g. grad1...=100ugrad,5uusdc. Repeatable.")
@click.pass_context
@friendly
def init(ctx, chain_id, moniker, port_base, preset, accounts):
    """Create a node home: CometBFT config and keys, genesis with funded accounts, and a faucet key."""
    from abci_app.genesis_tools import app_state, consensus_pubkey, ensure_encryption_key
    from abci_app.node import check_new_home, init_node
    from abci_app.settings import Ports
    from abci_app.testnet import share_genesis
    from chain.tx.address import to_bech32
    from client.errors import KeyringError

    check_new_home(Path(ctx.obj["home"]))  # before any key is made in its keyring
    settings = load_preset(preset)
    ring = keyring(ctx)
    faucet_name, operator_name = settings["faucet"]["key"], "operator"
    secret = None
    for name in (faucet_name, operator_name):
        try:
            ring.info(name)
        except KeyringError:
            secret = secret or password(ctx, confirm=True)
            ring.add(name, secret)
    faucet, operator = (resolve_address(ctx, n) for n in (faucet_name, operator_name))
    balances = {faucet: {d: int(a) for d, a in settings["faucet"]["coins"].items()}}
    denom = settings["auth"]["fee_denom"]
    balances.setdefault(operator, {})[denom] = int(settings["operators"]["spendable"])
    for entry in accounts:
        who, _, coins = entry.partition("=")
        address = resolve_address(ctx, who)
        for denom, amount in parse_coins(coins).items():
            balances.setdefault(address, {})
            balances[address][denom] = balances[address].get(denom, 0) + amount
    chain_id = chain_id or settings["chain"]["chain_id"]
    home = Path(ctx.obj["home"])
    init_node(home, moniker, chain_id, {}, ports=Ports.from_base(port_base) if port_base else Ports(),
              timeout_commit=settings["consensus"]["timeout_commit"], prometheus=True)
    # the node's own validator, bonded at genesis and operated by the `operator` key
    # the X25519 key is encrypted with $GRADCHAIN_NODE_PASSWORD, or else the keyring password
    node_password = os.environ.get("GRADCHAIN_NODE_PASSWORD") or secret or password(ctx)
    validator = (operator, consensus_pubkey(home), ensure_encryption_key(home, node_password),
                 int(settings["operators"]["bond"]))
    share_genesis([home], app_state(settings, balances, [validator]))
    emit(ctx, {"home": str(home), "chain_id": chain_id, "faucet": to_bech32(faucet), "operator": to_bech32(operator)},
         f"initialised node home {home} for chain {chain_id}\n"
         f"faucet key {faucet_name!r}: {to_bech32(faucet)}\nvalidator operator key {operator_name!r}: "
         f"{to_bech32(operator)}\nnext: gradchain --home {home} start")


@click.command()
@click.option("--abci", type=click.Choice(["socket", "grpc"]), default=None,
              help="how CometBFT reaches the app: ABCI over a socket or over gRPC (CometBFT's --abci); "
                   "default: abci in gradchain.toml (socket)")
@click.pass_context
@friendly
def start(ctx, abci):
    """Run the node (app + CometBFT) in the foreground. Ctrl-C stops both cleanly."""
    from abci_app.node import check_home, needs_password, run_node
    home = Path(ctx.obj["home"])
    check_home(home)  # an operator's mistake (files, keys, ports, a node already running) before any password
    # unlocks encryption_key.json unless $GRADCHAIN_NODE_PASSWORD or encryption_key_password_file does
    secret = None
    if needs_password(home):
        try:
            secret = password(ctx)
        except click.ClickException:
            raise click.ClickException(f"{home / 'encryption_key.json'} is encrypted: set GRADCHAIN_NODE_PASSWORD, "
                                       "or give the keyring password (--password-file or GRADCHAIN_PASSWORD)") from None
    raise SystemExit(run_node(home, secret, abci=abci))


@click.command()
@click.pass_context
@friendly
def status(ctx):
    """Height, app hash and sync state of the node at --node."""
    from client.rpc import CometRPC
    rpc = CometRPC(ctx.obj["node"])
    try:
        s = rpc.status()
    finally:
        rpc.close()
    info = s["sync_info"]
    data = {"chain_id": s["node_info"]["network"], "moniker": s["node_info"]["moniker"],
            "height": int(info["latest_block_height"]), "app_hash": info["latest_app_hash"],
            "catching_up": info["catching_up"], "voting_power": int(s["validator_info"]["voting_power"])}
    emit(ctx, data, "\n".join(f"{k}: {v}" for k, v in data.items()))


@click.command()
@click.pass_context
def version(ctx):
    """The app's version, its protocol version (in every block header) and the CometBFT it runs on."""
    from abci_app.convert import APP_VERSION, SOFTWARE_VERSION
    from abci_app.node import COMETBFT_VERSION, installed_cometbft
    found = installed_cometbft()
    data = {"app_version": SOFTWARE_VERSION, "app_protocol_version": APP_VERSION,
            "cometbft_required": COMETBFT_VERSION, "cometbft_version": found[1] if found else None,
            "cometbft_path": str(found[0]) if found else None}
    if found is None:
        cometbft = f"cometbft: not found (needs {COMETBFT_VERSION}; run scripts/setup.sh)"
    elif found[1] != COMETBFT_VERSION:
        cometbft = f"cometbft: {found[1]} at {found[0]} (needs {COMETBFT_VERSION}; run scripts/setup.sh)"
    else:
        cometbft = f"cometbft: {found[1]} ({found[0]})"
    emit(ctx, data, f"gradchain {SOFTWARE_VERSION}\napp protocol version: {APP_VERSION}\n{cometbft}")


def _home(ctx, stopped: bool = False) -> Path:
    """--home, checked to be a node home (and, with `stopped`, not held by a running node)."""
    from abci_app.preflight import check_home, check_settings
    home = Path(ctx.obj["home"])
    (check_home if stopped else check_settings)(home)
    return home


@click.command("show-node-id")
@click.pass_context
@friendly
def show_node_id(ctx):
    """This node's CometBFT id, as peers name it in `id@host:port`."""
    from abci_app.node import node_id
    home = _home(ctx)
    nid = node_id(home)
    emit(ctx, {"node_id": nid}, nid)


@click.command("show-validator")
@click.pass_context
@friendly
def show_validator(ctx):
    """This node's consensus public key and address (priv_validator_key.json) and its X25519 encryption
    public key (encryption_key.json; no password needed): what `tx validators create` registers."""
    import base64
    import hashlib
    import json

    from abci_app import node_key
    from abci_app.settings import cometbft_home
    home = _home(ctx)
    path = cometbft_home(home) / "config" / "priv_validator_key.json"
    try:
        pub = base64.b64decode(json.loads(path.read_text())["pub_key"]["value"])
    except (OSError, ValueError, KeyError) as e:
        raise click.ClickException(f"cannot read the consensus key {path}: {e}") from None
    data = {"consensus_pubkey": base64.b64encode(pub).decode(),
            "consensus_address": hashlib.sha256(pub).digest()[:20].hex().upper()}
    if node_key.key_path(home).exists():
        data["encryption_pubkey"] = base64.b64encode(node_key.public_key(home)).decode()
    emit(ctx, data, "\n".join(f"{k}: {v}" for k, v in data.items()))


@click.command("export")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write here instead of stdout.")
@click.pass_context
@friendly
def export(ctx, out):
    """The stopped node's state as a genesis app_state (JSON) that `init` / InitChain imports again. The node
    must not be running (its database is locked while it runs)."""
    import json

    from abci_app.node import _open_application
    from abci_app.settings import load_settings
    from chain.genesis import export_genesis
    home = _home(ctx, stopped=True)
    app, kv = _open_application(home, load_settings(home))
    try:
        if app.store.height == 0:
            raise click.ClickException(f"the node at {home} has committed no block yet: there is no state to export "
                                       "(its genesis is cometbft/config/genesis.json)")
        state = {"height": app.store.height, "app_hash": app.store.app_hash.hex(),
                 "app_state": export_genesis(app.store)}
    finally:
        kv.close()
    text = json.dumps(state, indent=1, sort_keys=True)
    if out:
        Path(out).write_text(text + "\n")
        emit(ctx, {"out": out, "height": state["height"], "app_hash": state["app_hash"]},
             f"state at height {state['height']} (app hash {state['app_hash']}) written to {out}")
    else:
        click.echo(text)


@click.command("unsafe-reset-all")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (needed when not on a terminal).")
@click.option("--keep-addr-book", is_flag=True, help="Keep CometBFT's address book (the peers it learned).")
@click.pass_context
@friendly
def unsafe_reset_all(ctx, yes, keep_addr_book):
    """Delete a stopped node's blocks and state, to sync again from genesis: CometBFT's data (blocks, state,
    WAL, evidence; its signing state back to height 0), the app's database and its snapshots. Keeps the
    config, genesis and every key. A validator that signs again at heights it already signed double-signs:
    its bond is slashed, so only reset one that will not sign until the chain is past those heights."""
    import shutil
    import subprocess

    from abci_app.node import find_cometbft
    from abci_app.settings import cometbft_home, db_path, load_settings, snapshots_path
    home = _home(ctx, stopped=True)
    settings = load_settings(home)
    doomed = [p for p in (db_path(home, settings), snapshots_path(home, settings)) if p.exists()]
    what = f"the blocks and state of the node at {home} ({', '.join(map(str, doomed)) or 'no app data yet'})"
    if not yes:
        if not sys.stdin.isatty():
            raise click.ClickException(f"deleting {what} cannot be undone: pass --yes")
        click.confirm(f"Delete {what}? This cannot be undone", abort=True)
    args = [str(find_cometbft()), "unsafe-reset-all", "--home", str(cometbft_home(home))]
    done = subprocess.run(args + (["--keep-addr-book"] if keep_addr_book else []), capture_output=True, text=True)
    if done.returncode:
        raise click.ClickException(f"cometbft unsafe-reset-all failed: {(done.stderr or done.stdout).strip()}")
    for path in doomed:
        shutil.rmtree(path)
    emit(ctx, {"home": str(home), "removed": [str(p) for p in doomed], "cometbft": "reset"},
         f"reset {home}: CometBFT's data and signing state, " + (", ".join(map(str, doomed)) or "no app data")
         + "; config, genesis and keys kept")
