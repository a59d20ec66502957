"""The `gradchain` CLI as a user runs it: init, start, keys, send, query, with --output json."""
import json
import os
import subprocess
import sys

import pytest

from nodeutil import ROOT, free_port_base, stop_process, wait_for_height

pytestmark = pytest.mark.integration


def cli(home, *args, check=True):
    env = {**os.environ, "GRADCHAIN_PASSWORD": "test-password", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "cli", "--home", str(home), "-o", "json", *args],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    if check and proc.returncode != 0:
        raise AssertionError(f"gradchain {' '.join(args)} failed: {proc.stderr}")
    return proc


def test_cli_end_to_end(tmp_path):
    home = tmp_path / "home"
    base = free_port_base(6)
    init = cli(home, "init", "--chain-id", "cli-1", "--port-base", str(base))
    faucet = json.loads(init.stdout)["faucet"]
    node = f"http://127.0.0.1:{base + 1}"
    # the node's encryption key is encrypted at rest: with no password anywhere, start refuses in one line
    bare = {k: v for k, v in os.environ.items() if k not in ("GRADCHAIN_PASSWORD", "GRADCHAIN_NODE_PASSWORD")}
    locked = subprocess.run([sys.executable, "-m", "cli", "--home", str(home), "start"], cwd=ROOT,
                            env={**bare, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                            stdin=subprocess.DEVNULL)
    assert locked.returncode == 1 and "is encrypted" in locked.stderr and "Traceback" not in locked.stderr
    assert "private_key" not in (home / "encryption_key.json").read_text()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GRADCHAIN_PASSWORD": "test-password"}  # unlocks the node key
    with open(tmp_path / "start.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "cli", "--home", str(home), "start"],
                                cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        wait_for_height(node, 2, proc=proc)
        alice = json.loads(cli(home, "keys", "add", "alice").stdout)["address"]
        sent = json.loads(cli(home, "--node", node, "tx", "bank", "send", "faucet", "alice", "700ugrad,3uusdc").stdout)
        assert sent["height"] > 0 and len(sent["tx_hash"]) == 64
        balances = json.loads(cli(home, "--node", node, "query", "bank", "balances", "alice").stdout)
        assert balances == {"address": alice, "balances": {"ugrad": "700", "uusdc": "3"}}
        proven = json.loads(cli(home, "--node", node, "query", "bank", "balances", alice, "--denom", "uusdc").stdout)
        assert proven["verified"] and proven["balances"] == {"uusdc": "3"}
        matched = json.loads(cli(home, "--node", node, "query", "txs", "--events", f"transfer.recipient='{alice}'").stdout)
        assert matched["total"] == 1 and [t["tx_hash"] for t in matched["txs"]] == [sent["tx_hash"]]
        assert matched["txs"][0]["messages"][0]["type"] == "send"
        bad_query = cli(home, "--node", node, "query", "txs", "--events", "transfer.recipient=", check=False)
        assert bad_query.returncode == 1 and "Traceback" not in bad_query.stderr
        found = json.loads(cli(home, "query", "tx", sent["tx_hash"], "--node", node.replace("http", "tcp")).stdout)
        assert {k: found[k] for k in ("height", "code", "codespace", "log")} == {
            "height": sent["height"], "code": 0, "codespace": "", "log": ""}
        assert found["fee_paid"] == found["fee"] == sent["fee"] and found["messages"][0]["type"] == "send"
        block = json.loads(cli(home, "--node", node, "query", "block", str(sent["height"])).stdout)
        assert sent["tx_hash"] in block["txs"]
        # user mistakes: one clear line, exit 1, no traceback
        bad = cli(home, "--node", node, "tx", "bank", "send", "alice", faucet, "10ugrad,10ugrad", check=False)
        assert bad.returncode != 0 and "given twice" in bad.stderr and "Traceback" not in bad.stderr
        poor = cli(home, "--node", node, "tx", "bank", "send", "alice", faucet, "99999999ugrad", check=False)
        assert poor.returncode == 1 and json.loads(poor.stderr)["error"]["name"] == "InsufficientFunds"
        assert "Traceback" not in poor.stderr
        assert json.loads(cli(home, "--node", node, "query", "account", "alice").stdout)["sequence"] == 0
        # rounds commands over a real node's RPC: no models yet, and an unknown model prints its code
        assert json.loads(cli(home, "--node", node, "query", "open-models").stdout) == []
        earned = json.loads(cli(home, "--node", node, "query", "earnings", "--key", "alice").stdout)
        assert earned == {"address": alice, "earned": {}, "forfeited": {}, "submissions": []}
        unknown = cli(home, "--node", node, "query", "leaderboard", "1", check=False)
        assert unknown.returncode == 1 and json.loads(unknown.stderr)["error"]["codespace"] == "registry"
        import numpy as np
        np.savez(tmp_path / "data.npz", X=np.zeros((4, 64)), y=np.arange(4))
        untrained = cli(home, "--node", node, "train", "1", "--data", str(tmp_path / "data.npz"), "--from", "alice",
                        check=False)
        assert untrained.returncode == 1 and "UnknownModel" in untrained.stderr
        assert "Traceback" not in untrained.stderr
    finally:
        assert stop_process(proc) == 0, (tmp_path / "start.log").read_text()[-3000:]


def test_cli_send_to_module_account_refused(tmp_path):
    """`tx bank send faucet <bonded_pool> 1ugrad` on a real node: refused with bank/8 (ModuleAccountRecipient),
    the bonded pool unchanged, and the chain keeps committing and taking plain sends."""
    from chain.tx.address import module_address, to_bech32
    from nodeutil import height
    home = tmp_path / "home"
    base = free_port_base(6)
    cli(home, "init", "--chain-id", "caps-1", "--port-base", str(base))
    node = f"http://127.0.0.1:{base + 1}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GRADCHAIN_PASSWORD": "test-password"}  # unlocks the node key
    pool = to_bech32(module_address("bonded_pool"))
    with open(tmp_path / "start.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "cli", "--home", str(home), "start"],
                                cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        wait_for_height(node, 2, proc=proc)
        held = json.loads(cli(home, "--node", node, "query", "bank", "balances", pool).stdout)["balances"]
        refused = cli(home, "--node", node, "tx", "bank", "send", "faucet", pool, "1ugrad", check=False)
        error = json.loads(refused.stderr)["error"]          # -o json: errors are JSON on stderr
        assert refused.returncode == 1 and (error["name"], error["codespace"], error["code"]) == \
            ("ModuleAccountRecipient", "bank", 8), refused.stderr
        assert "Traceback" not in refused.stderr
        wait_for_height(node, height(node) + 2, proc=proc)  # still committing
        assert json.loads(cli(home, "--node", node, "query", "bank", "balances", pool).stdout)["balances"] == held
        bob = json.loads(cli(home, "keys", "add", "bob").stdout)["address"]
        sent = json.loads(cli(home, "--node", node, "tx", "bank", "send", "faucet", bob, "5ugrad").stdout)
        assert sent["height"] > 0
        assert json.loads(cli(home, "--node", node, "query", "bank", "balances", bob).stdout)["balances"] == {"ugrad": "5"}
    finally:
        assert stop_process(proc) == 0, (tmp_path / "start.log").read_text()[-3000:]
