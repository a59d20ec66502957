"""A 4-validator testnet on loopback: agreement, crash of one, loss of quorum, full restart, joining."""
import os
import signal
import subprocess
import time
import tomllib
from pathlib import Path

import pytest

from abci_app.testnet import add_full_node, init_testnet, load_manifest, start_node, start_testnet, stop_node, stop_testnet
from client import Client
from client.wallet import Wallet
from loadgen import TransferLoad
from nodeutil import ROOT, free_port_base, height, rpc, wait_for_height

pytestmark = pytest.mark.integration

OPERATORS = [Wallet.from_seed(bytes([0x40 + i]) * 32) for i in range(4)]
FAUCET = Wallet.from_seed(b"\x4f" * 32)


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    root = tmp_path_factory.mktemp("testnet")
    preset = tomllib.loads((ROOT / "config/local.toml").read_text())
    preset["validators"]["unbonding_blocks"] = 5
    manifest = init_testnet(root, 4, "net-1", preset, [w.address_bytes for w in OPERATORS], FAUCET.address_bytes,
                            port_base=free_port_base(60), timeout_commit="300ms")
    start_testnet(root)
    urls = [f"http://127.0.0.1:{n['rpc']}" for n in manifest["nodes"]]
    try:
        for url in urls:
            wait_for_height(url, 2, timeout=90)
        yield root, urls
    finally:
        stop_testnet(root)


def header_app_hash(url: str, h: int) -> str:
    return rpc(url, "commit", height=str(h))["signed_header"]["header"]["app_hash"]


def assert_same_hashes(urls, upto: int) -> None:
    for h in range(max(1, upto - 15), upto + 1):
        hashes = {header_app_hash(u, h) for u in urls}
        assert len(hashes) == 1, f"nodes disagree at height {h}: {hashes}"


def node_home(root, i) -> Path:
    return Path(load_manifest(root)["nodes"][i]["home"])


def test_tx_on_node0_visible_on_node3_and_hashes_agree(net):
    root, urls = net
    bob = Wallet.generate()
    with Client(urls[0]) as c0, Client(urls[3]) as c3:
        receipt = c0.send(FAUCET, bob.address, {"ugrad": 77, "uusdc": 3})
        wait_for_height(urls[3], receipt.height + 1)
        assert c3.balances(bob.address) == {"ugrad": 77, "uusdc": 3}
        assert c3.balance(bob.address, "uusdc", prove=True) == 3
        assert len(c3.validators()) == 4
    assert_same_hashes(urls, min(height(u) for u in urls) - 1)


def _kill9(home: Path) -> None:
    pid = int((home / "node.pid").read_text())
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    for p in [pid, *map(int, children)]:
        os.kill(p, signal.SIGKILL)
    os.waitpid(pid, 0)


def test_kill9_one_validator_under_load_then_catch_up(net):
    root, urls = net
    with TransferLoad(urls[:1], FAUCET) as load:
        time.sleep(2)
        _kill9(node_home(root, 2))
        h = height(urls[0])
        wait_for_height(urls[0], h + 5, timeout=60)  # 3 of 4 keep committing
        start_node(node_home(root, 2))
        wait_for_height(urls[2], height(urls[0]), timeout=120)
    # The last sends committed on node 0; node 2 may still be applying that block.
    wait_for_height(urls[2], height(urls[0]) + 1, timeout=60)
    with Client(urls[2]) as c:
        assert c.balances(load.recipient.address).get("ugrad", 0) == load.committed  # nothing lost or doubled
    assert load.committed > 5
    assert_same_hashes(urls, min(height(u) for u in urls) - 1)


def test_two_of_four_down_halts_without_fork_then_resumes(net):
    root, urls = net
    stop_node(node_home(root, 2))
    stop_node(node_home(root, 3))
    time.sleep(2)
    stalled = height(urls[0])
    time.sleep(4)
    assert height(urls[0]) <= stalled + 1  # no quorum: at most the block already in flight
    assert height(urls[1]) <= stalled + 1
    start_node(node_home(root, 2))
    wait_for_height(urls[0], stalled + 3, timeout=90)
    start_node(node_home(root, 3))
    wait_for_height(urls[3], height(urls[0]), timeout=120)
    assert_same_hashes(urls, min(height(u) for u in urls) - 1)


def test_restart_every_node_resumes_from_last_height(net):
    root, urls = net
    last = max(height(u) for u in urls)
    stop_testnet(root)
    start_testnet(root)
    for url in urls:
        wait_for_height(url, last + 2, timeout=120)
    assert_same_hashes(urls, min(height(u) for u in urls) - 1)


def test_full_node_joins_as_validator_and_leaves(net):
    from chain.tx.coins import Coin
    from chain.validators.messages import MsgCreateValidator, MsgUnbond
    from abci_app.genesis_tools import consensus_pubkey, ensure_encryption_key
    root, urls = net
    node = add_full_node(root)
    home = Path(node["home"])
    start_node(home)
    url = f"http://127.0.0.1:{node['rpc']}"
    wait_for_height(url, height(urls[0]), timeout=120)  # synced from the others
    operator = Wallet.generate()
    with Client(url) as c:
        c.send(FAUCET, operator.address, {"ugrad": 50_000_000})
        joined = c.submit(operator, [MsgCreateValidator(consensus_pubkey=consensus_pubkey(home),
                                                        encryption_pubkey=ensure_encryption_key(home),
                                                        bond=Coin.of("ugrad", 20_000_000))])
        wait_for_height(url, joined.height + 3)
        assert int(rpc(url, "status")["validator_info"]["voting_power"]) == 20
        vals = rpc(url, "validators", height=str(joined.height + 2))
        assert int(vals["total"]) == 5
        left = c.submit(operator, [MsgUnbond()])
        wait_for_height(url, left.height + 3)
        assert int(rpc(url, "status")["validator_info"]["voting_power"]) == 0
        assert int(rpc(url, "validators", height=str(left.height + 2))["total"]) == 4
        before = c.balance(operator.address, "ugrad")
        wait_for_height(url, left.height + 6)  # unbonding_blocks = 5
        assert c.balance(operator.address, "ugrad") == before + 20_000_000
    assert_same_hashes(urls + [url], min(height(u) for u in urls + [url]) - 1)
    stop_node(home)
