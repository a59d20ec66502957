"""A real CometBFT v0.38 node with the gradchain app: transfers, proofs, bad input, crash recovery."""
import base64
import os
import signal
import subprocess
import sys
import time

import pytest

from abci_app.node import init_node
from client import Client, TxFailed
from client.errors import ProofInvalid
from client.wallet import Wallet
from nodeutil import ROOT, abci_query, free_node_ports, running_node, wait_for_height

pytestmark = pytest.mark.integration

CHAIN_ID = "itest-1"
FAUCET = Wallet.from_seed(b"\x0f" * 32)
PARAMS = {"fee_denom": "ugrad", "min_fee_base": 100, "min_fee_per_byte": 1, "max_tx_bytes": 65536}


def app_state(*wallets):
    return {"auth": {"params": PARAMS},
            "bank": {"balances": [{"address": w.address, "coins": [{"denom": "ugrad", "amount": "10000000"},
                                                                     {"denom": "uusdc", "amount": "5000"}]}
                                  for w in sorted(wallets, key=lambda w: w.address)]}}


@pytest.fixture
def node_home(tmp_path):
    home = tmp_path / "node"
    init_node(home, "n0", CHAIN_ID, app_state(FAUCET), ports=free_node_ports(), timeout_commit="200ms")
    return home


def test_transfer_committed_and_proven(node_home):
    bob = Wallet.generate()
    with running_node(node_home) as node, Client(node.rpc) as c:
        wait_for_height(node.rpc, 2, proc=node.proc)
        receipt = c.send(FAUCET, bob.address, {"ugrad": 1234, "uusdc": 5})
        assert receipt.height > 0
        assert c.balances(bob.address) == {"ugrad": 1234, "uusdc": 5}
        assert c.balance(bob.address, "uusdc", prove=True) == 5          # inclusion proof
        assert c.balance(bob.address, "ueth", prove=True) == 0           # absence proof
        assert c.sequence(FAUCET.address) == 1
        # a second tx right after: the client tracks the sequence itself
        c.send(FAUCET, bob.address, {"ugrad": 1})
        assert c.balance(bob.address, "ugrad") == 1235


def test_historical_query_on_a_real_node_is_proven_at_that_height(node_home):
    """After two transfers, the balance as of the first one's block, with its proof checked against that
    height's light-verified header; the latest answers the new balance."""
    bob = Wallet.generate()
    with running_node(node_home) as node, Client(node.rpc) as c:
        wait_for_height(node.rpc, 2, proc=node.proc)
        first = c.send(FAUCET, bob.address, {"ugrad": 1000})
        c.send(FAUCET, bob.address, {"ugrad": 1})
        assert c.balance(bob.address, "ugrad") == 1001
        assert c.balance(bob.address, "ugrad", height=first.height) == 1000         # proven at that height
        assert c.balances(bob.address, height=first.height - 1) == {}               # before it: nothing
        assert c.verified.get(b"no such key", height=first.height).value is None   # proven absent then
        with pytest.raises(TxFailed) as e:
            c.balances(bob.address, height=first.height + 10_000)
        assert (e.value.codespace, e.value.code) == ("query", 3)


def test_tampered_proof_or_value_rejected(node_home):
    bob = Wallet.generate()
    with running_node(node_home) as node, Client(node.rpc) as c:
        wait_for_height(node.rpc, 2, proc=node.proc)
        c.send(FAUCET, bob.address, {"uusdc": 5})
        honest = c.rpc.abci_query

        def lying_value(path, data, height=0, prove=False):
            response = honest(path, data, height, prove)
            response["value"] = base64.b64encode((500).to_bytes(2, "big")).decode()
            return response

        def tampered_proof(path, data, height=0, prove=False):
            response = honest(path, data, height, prove)
            op = response["proofOps"]["ops"][0]
            proof = bytearray(base64.b64decode(op["data"]))
            proof[-1] ^= 0x01
            op["data"] = base64.b64encode(bytes(proof)).decode()
            return response

        for liar in (lying_value, tampered_proof):
            c.rpc.abci_query = liar
            with pytest.raises(ProofInvalid):
                c.balance(bob.address, "uusdc", prove=True)
        c.rpc.abci_query = honest
        assert c.balance(bob.address, "uusdc", prove=True) == 5


def test_bad_input_gets_codes_and_node_survives(node_home):
    with running_node(node_home) as node, Client(node.rpc) as c:
        wait_for_height(node.rpc, 2, proc=node.proc)
        for raw, expected in [(b"\xff\xff", ("tx", 1)), (b"", ("tx", 1)), (b"\x00" * 70000, ("tx", 2))]:
            with pytest.raises(TxFailed) as err:
                c.broadcast(raw)
            assert (err.value.codespace, err.value.code) == expected
        with pytest.raises(TxFailed) as err:
            c.send(FAUCET, Wallet.generate().address, {"uusdc": 10**9})
        assert err.value.name == "InsufficientFunds"
        assert abci_query(node.rpc, "/nope")["codespace"] == "query"
        h = c.rpc.latest_height()
        wait_for_height(node.rpc, h + 2, proc=node.proc)  # still producing blocks


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def test_kill9_then_restart_resumes_same_state(node_home):
    bob = Wallet.generate()
    with running_node(node_home) as node, Client(node.rpc) as c:
        wait_for_height(node.rpc, 2, proc=node.proc)
        for i in range(3):
            c.send(FAUCET, bob.address, {"ugrad": 100})
        target = c.rpc.latest_height() + 2
        wait_for_height(node.rpc, target, proc=node.proc)
        before = c.rpc.commit(target)["signed_header"]["header"]["app_hash"]
        # kill -9 both processes: the app (our child) and CometBFT (its child)
        for pid in _children(node.proc.pid) + [node.proc.pid]:
            os.kill(pid, signal.SIGKILL)
        node.proc.wait()
    with running_node(node_home) as node, Client(node.rpc) as c:
        wait_for_height(node.rpc, target + 3, timeout=90, proc=node.proc)
        assert c.rpc.commit(target)["signed_header"]["header"]["app_hash"] == before
        assert c.balances(bob.address) == {"ugrad": 300}
        c.send(FAUCET, bob.address, {"ugrad": 1})   # the chain goes on, sequence continues at 3
        assert c.balance(bob.address, "ugrad") == 301
