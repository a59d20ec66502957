"""Local multi-validator testnets on loopback: one folder per node, one shared genesis.

Layout under the testnet root:
    testnet.json          chain id and, per node, its home and ports
    keyring/              operator keys (validator0..N-1) and the faucet, encrypted
    node<i>/              a node home (gradchain.toml, cometbft/, data/, logs, encryption_key.json)
Nodes run in the background (`start`), each as `python -m abci_app.node --home node<i>`, with its pid
in node<i>/node.pid and its output in node<i>/node.out.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import httpx

from abci_app.genesis_tools import app_state, consensus_pubkey, ensure_encryption_key
from abci_app.node import (NodeError, init_node, node_id, read_genesis, set_persistent_peers, set_state_sync,
                           write_genesis)
from abci_app.node_key import write_password_file
from abci_app.settings import Ports, load_settings, save_settings

MANIFEST = "testnet.json"
PORT_STRIDE = 10  # node i uses base + 10*i + {0: p2p, 1: rpc, 2: abci, 4: CometBFT metrics, 5: app metrics}
_REPO = Path(__file__).resolve().parent.parent


def share_genesis(homes: list[Path], state: dict) -> None:
    """Give every node the first node's genesis (one genesis_time) with `state` as app_state. The
    validator set comes from the app (InitChain), so genesis.json lists none."""
    genesis = read_genesis(homes[0])
    genesis["app_state"] = state
    genesis["validators"] = []
    for home in homes:
        write_genesis(home, genesis)


def load_manifest(root: Path) -> dict:
    path = Path(root) / MANIFEST
    if not path.exists():
        raise NodeError(f"{root} is not a testnet; create one with `gradchain testnet init`")
    return json.loads(path.read_text())


def _save_manifest(root: Path, manifest: dict) -> None:
    (Path(root) / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")


def init_testnet(root: Path, validators: int, chain_id: str, preset: dict, operators: list[bytes],
                 faucet: bytes, port_base: int = 27000, timeout_commit: str | None = None,
                 extra_balances: dict[bytes, dict[str, int]] | None = None, snapshot_interval: int = 0,
                 snapshot_chunk_bytes: int | None = None, create_empty_blocks: bool = True) -> dict:
    """Create `validators` node homes with bonded operators (operators[i] runs node i) and a funded faucet.
    extra_balances (address -> {denom: amount}) adds genesis funds, e.g. for load-test senders.
    snapshot_interval > 0: every node takes a state sync snapshot every that many heights (add_full_node
    with state_sync=True joins from one)."""
    root = Path(root)
    if (root / MANIFEST).exists():
        raise NodeError(f"{root} already holds a testnet; `gradchain testnet stop` and remove it first")
    if not 1 <= validators <= 20 or len(operators) != validators:
        raise NodeError("a local testnet has 1 to 20 validators, one operator key each")
    timeout_commit = timeout_commit or preset["consensus"]["timeout_commit"]
    nodes, homes = [], []
    for i in range(validators):
        home, ports = root / f"node{i}", Ports.from_base(port_base + PORT_STRIDE * i)
        init_node(home, f"node{i}", chain_id, {}, ports=ports, timeout_commit=timeout_commit, prometheus=True,
                  create_empty_blocks=create_empty_blocks)
        _node_key_password(root, home)
        _snapshot_settings(home, snapshot_interval, snapshot_chunk_bytes)
        homes.append(home)
        nodes.append({"name": f"node{i}", "home": str(home), **_port_fields(ports), "validator": True})
    bond, spendable = int(preset["operators"]["bond"]), int(preset["operators"]["spendable"])
    denom = preset["auth"]["fee_denom"]
    balances = {faucet: {d: int(a) for d, a in preset["faucet"]["coins"].items()}}
    for operator in operators:
        balances.setdefault(operator, {})[denom] = balances.get(operator, {}).get(denom, 0) + spendable
    for address, extra in (extra_balances or {}).items():
        held = balances.setdefault(address, {})
        for d, a in extra.items():
            held[d] = held.get(d, 0) + int(a)
    bonded = [(op, consensus_pubkey(h), ensure_encryption_key(h), bond) for op, h in zip(operators, homes)]
    share_genesis(homes, app_state(preset, balances, bonded))
    ids = [node_id(h) for h in homes]
    for i, home in enumerate(homes):
        set_persistent_peers(home, [f"{ids[j]}@127.0.0.1:{nodes[j]['p2p']}" for j in range(validators) if j != i])
    manifest = {"chain_id": chain_id, "port_base": port_base, "timeout_commit": timeout_commit, "nodes": nodes}
    _save_manifest(root, manifest)
    return manifest


def _snapshot_settings(home: Path, interval: int, chunk_bytes: int | None) -> None:
    settings = replace(load_settings(home), snapshot_interval=interval)
    if chunk_bytes is not None:
        settings = replace(settings, snapshot_chunk_bytes=chunk_bytes)
    save_settings(home, settings)


def _rpc(url: str, method: str, **params) -> dict:
    with httpx.Client(timeout=10) as http:
        reply = http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).json()
    if "result" not in reply:
        raise NodeError(f"{url} {method}: {reply.get('error')}")
    return reply["result"]


def state_sync_trust(manifest: dict) -> tuple[list[str], int, str]:
    """(rpc servers, trust height, trust hash) for a node joining by state sync, from the testnet's node 0
    (the trusted RPC: it is this machine's own testnet). The trust height is the latest snapshot height
    node 0 has reached, so the light client verifies the snapshot's header from a header it was given."""
    first = manifest["nodes"][0]
    interval = load_settings(Path(first["home"])).snapshot_interval
    if interval <= 0:
        raise NodeError("the testnet's nodes take no snapshots (snapshot_interval = 0 in their gradchain.toml): "
                        "create it with `gradchain testnet init --snapshot-interval N`, or join by block sync")
    url = f"http://127.0.0.1:{first['rpc']}"
    try:
        latest = int(_rpc(url, "status")["sync_info"]["latest_block_height"])
    except (httpx.HTTPError, KeyError, ValueError) as e:
        raise NodeError(f"cannot read the latest height from {first['name']} ({url}): is the testnet running? "
                        f"({e})") from None
    snapshot_height = latest // interval * interval
    if snapshot_height == 0 or latest < snapshot_height + 2:
        snapshot_height -= interval    # its header (height + 1) and the next must exist for the light client
    if snapshot_height <= 0:
        raise NodeError(f"no snapshot yet: {first['name']} is at height {latest}, the first snapshot is at "
                        f"{interval} and usable from height {interval + 2}")
    commit = _rpc(url, "commit", height=str(snapshot_height))
    trust_hash = commit["signed_header"]["commit"]["block_id"]["hash"]
    urls = [f"http://127.0.0.1:{n['rpc']}" for n in manifest["nodes"][:2]]
    return (urls * 2)[:2], snapshot_height, trust_hash


def add_full_node(root: Path, state_sync: bool = False) -> dict:
    """A new non-validator node that syncs from the others; turn it into a validator with a
    create-validator tx using its consensus and encryption keys. state_sync=True: it restores a recent
    snapshot of the others (abci_app/snapshots.py) instead of replaying every block, trusting the header
    hash node 0 serves at the snapshot's height; the testnet must be running and taking snapshots."""
    manifest = load_manifest(root)
    trust = state_sync_trust(manifest) if state_sync else None
    i = len(manifest["nodes"])
    home, ports = Path(root) / f"node{i}", Ports.from_base(manifest["port_base"] + PORT_STRIDE * i)
    init_node(home, f"node{i}", manifest["chain_id"], {}, ports=ports, timeout_commit=manifest["timeout_commit"],
              prometheus=True)
    _node_key_password(Path(root), home)
    ensure_encryption_key(home)
    write_genesis(home, read_genesis(Path(manifest["nodes"][0]["home"])))
    set_persistent_peers(home, [f"{node_id(Path(n['home']))}@127.0.0.1:{n['p2p']}" for n in manifest["nodes"]])
    node = {"name": f"node{i}", "home": str(home), **_port_fields(ports), "validator": False}
    if trust is not None:
        rpc_servers, trust_height, trust_hash = trust
        set_state_sync(home, rpc_servers, trust_height, trust_hash)
        node.update(state_sync={"trust_height": trust_height, "trust_hash": trust_hash, "rpc_servers": rpc_servers})
    manifest["nodes"].append(node)
    _save_manifest(root, manifest)
    return node


def _port_fields(ports: Ports) -> dict:
    return {"p2p": ports.p2p, "rpc": ports.rpc, "abci": ports.abci, "prometheus": ports.prometheus,
            "metrics": ports.metrics}


def _node_key_password(root: Path, home: Path) -> None:
    """A local testnet's nodes start unattended: each gets a random password for its encrypted
    encryption_key.json, in an owner-only file under <root>/secrets/ (outside the node home, so a copied
    home does not carry its password), named by encryption_key_password_file in its gradchain.toml."""
    password_file = (Path(root) / "secrets" / f"{home.name}.password").resolve()
    write_password_file(password_file, secrets.token_urlsafe(24))
    save_settings(home, replace(load_settings(home), encryption_key_password_file=str(password_file)))


# --- processes -----------------------------------------------------------------------------------
def _pid(home: Path) -> int | None:
    try:
        pid = int((home / "node.pid").read_text())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def start_node(home: Path) -> int:
    home = Path(home)
    if (pid := _pid(home)) is not None:
        return pid
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(_REPO), os.environ.get("PYTHONPATH")]))}
    with open(home / "node.out", "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "abci_app.node", "--home", str(home)], stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=_REPO,
                                start_new_session=True)  # survives the shell that started it
    (home / "node.pid").write_text(str(proc.pid))
    return proc.pid


def stop_node(home: Path, timeout: float = 20) -> bool:
    """SIGTERM (clean shutdown of CometBFT and the app), SIGKILL after `timeout`. True if it was running."""
    home = Path(home)
    pid = _pid(home)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _pid(home) is not None and time.monotonic() < deadline:
        _reap(pid)
        time.sleep(0.1)
    if _pid(home) is not None:
        os.killpg(pid, signal.SIGKILL)
        _reap(pid)
    (home / "node.pid").unlink(missing_ok=True)
    return True


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def start_testnet(root: Path) -> list[int]:
    return [start_node(Path(n["home"])) for n in load_manifest(root)["nodes"]]


def stop_testnet(root: Path) -> int:
    return sum(stop_node(Path(n["home"])) for n in load_manifest(root)["nodes"])


def node_status(node: dict) -> dict:
    """What an operator wants at a glance; `running: False` if the node is down."""
    url = f"http://127.0.0.1:{node['rpc']}"
    row = {"name": node["name"], "rpc": url, "running": _pid(Path(node["home"])) is not None}
    try:
        with httpx.Client(timeout=2) as http:
            status = http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "status"}).json()["result"]
            peers = http.post(url, json={"jsonrpc": "2.0", "id": 2, "method": "net_info"}).json()["result"]
    except (httpx.HTTPError, KeyError, ValueError):
        return {**row, "height": None, "peers": None, "app_hash": None, "catching_up": None, "power": None}
    sync = status["sync_info"]
    return {**row, "height": int(sync["latest_block_height"]), "peers": int(peers["n_peers"]),
            "app_hash": sync["latest_app_hash"], "catching_up": sync["catching_up"],
            "power": int(status["validator_info"]["voting_power"])}


def testnet_status(root: Path) -> list[dict]:
    return [node_status(n) for n in load_manifest(root)["nodes"]]
