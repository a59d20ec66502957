"""ABCI over gRPC with a real CometBFT v0.38 node (`gradchain start --abci grpc`, CometBFT's `--abci grpc`):
blocks are produced, signed transfers commit with code 0, queries with proofs verify, and the same
transfers served over the socket end in the same app hash."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from abci_app.node import init_node
from abci_app.settings import app_log_path, cometbft_log_path, load_settings
from client import Client
from client.wallet import Wallet
from nodeutil import ROOT, RunningNode, abci_query, free_node_ports, rpc_url, running_node, stop_process, wait_for_height

pytestmark = pytest.mark.integration

CHAIN_ID = "grpc-1"
FAUCET = Wallet.from_seed(b"\x0f" * 32)
BOB = Wallet.from_seed(b"\x0b" * 32)
PARAMS = {"fee_denom": "ugrad", "min_fee_base": 100, "min_fee_per_byte": 1, "max_tx_bytes": 65536}
APP_STATE = {"auth": {"params": PARAMS},
             "bank": {"balances": [{"address": FAUCET.address, "coins": [{"denom": "ugrad", "amount": "10000000"},
                                                                         {"denom": "uusdc", "amount": "5000"}]}]}}


def transfers_then_state(node, c: Client) -> dict:
    """The same signed transfers (deterministic signatures, so the same tx bytes on every run), committed
    one by one; then balances, proofs and the app hash once the chain has moved on."""
    wait_for_height(node.rpc, 2, proc=node.proc)
    # Client.send waits for the tx's block and raises TxFailed unless CheckTx and FinalizeBlock gave code 0
    receipts = [c.send(FAUCET, BOB.address, {"ugrad": 1000 + i, "uusdc": i + 1}) for i in range(4)]
    assert all(r.height > 0 for r in receipts)
    state = {"tx_hashes": [r.tx_hash for r in receipts],"balances": c.balances(BOB.address), "proven_uusdc": c.balance(BOB.address, "uusdc", prove=True),
             "proven_absent": c.balance(BOB.address, "ueth", prove=True), "sequence": c.sequence(FAUCET.address),
             "unknown_path": abci_query(node.rpc, "/nope")["codespace"]}
    last = receipts[-1].height
    wait_for_height(node.rpc, last + 2, proc=node.proc)   # empty blocks leave the app hash as it is
    state["app_hash"] = c.rpc.commit(last + 2)["signed_header"]["header"]["app_hash"]
    return state


def test_grpc_node_commits_proves_and_matches_the_socket_app_hash(tmp_path):
    grpc_home, socket_home = tmp_path / "grpc", tmp_path / "socket"
    init_node(grpc_home, "n0", CHAIN_ID, APP_STATE, ports=free_node_ports(), timeout_commit="200ms")
    shutil.copytree(grpc_home, socket_home)  # the same genesis and validator key; run one after the other
    assert load_settings(grpc_home).abci == "socket"   # `start --abci grpc` chooses gRPC for this run

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open(tmp_path / "start.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "cli", "--home", str(grpc_home), "start", "--abci", "grpc"],
                                cwd=ROOT, env=env, stdout=log, stderr=log)
    node = RunningNode(grpc_home, proc, rpc_url(grpc_home))
    try:
        with Client(node.rpc) as c:
            over_grpc = transfers_then_state(node, c)
    except BaseException:
        print(node.logs(), (tmp_path / "start.log").read_text()[-3000:])
        raise
    finally:
        assert stop_process(proc) == 0, node.logs()
    started = [json.loads(line) for line in app_log_path(grpc_home).read_text().splitlines()
               if '"node started"' in line]
    assert started and started[-1]["transport"] == "grpc"
    assert "abci grpc server listening" in app_log_path(grpc_home).read_text()
    assert "abci.grpcClient" not in cometbft_log_path(grpc_home).read_text()  # no dial failures or retries

    with running_node(socket_home) as node, Client(node.rpc) as c:
        over_socket = transfers_then_state(node, c)
    assert '"transport": "socket"' in app_log_path(socket_home).read_text()

    assert over_grpc["balances"] == {"ugrad": 4006, "uusdc": 10}
    assert (over_grpc["proven_uusdc"], over_grpc["proven_absent"], over_grpc["sequence"]) == (10, 0, 4)
    assert over_grpc["unknown_path"] == "query"
    assert over_grpc == over_socket


def test_grpc_transport_from_gradchain_toml_survives_a_restart(tmp_path):
    home = tmp_path / "node"
    init_node(home, "n0", CHAIN_ID, APP_STATE, ports=free_node_ports(), timeout_commit="200ms", abci="grpc")
    assert load_settings(home).abci == "grpc"
    with running_node(home) as node, Client(node.rpc) as c:
        wait_for_height(node.rpc, 2, proc=node.proc)
        c.send(FAUCET, BOB.address, {"ugrad": 7})
        stopped_at = c.rpc.latest_height()
    with running_node(home) as node, Client(node.rpc) as c:   # handshake replays over gRPC, then goes on
        wait_for_height(node.rpc, stopped_at + 2, proc=node.proc)
        c.send(FAUCET, BOB.address, {"ugrad": 8})
        assert c.balances(BOB.address) == {"ugrad": 15}
