"""The bridge on a real 4-validator CometBFT testnet: every validator's orchestrator talks to its own
node over RPC; the EVM is py-evm in this process. Deposit -> vouchers on every node -> withdraw ->
ERC-20 released, with app hashes agreeing and supply equal to what the contract holds."""
import time
import tomllib

import pytest
from web3 import EthereumTesterProvider, Web3

from abci_app.orchestrator import Orchestrator, RpcChain
from abci_app.orchestrator_setup import setup_nodes
from abci_app.testnet import init_testnet, load_manifest, start_testnet, stop_testnet
from chain.bridge.keeper import voucher_denom
from chain.tx.messages import MsgWithdraw
from client import Client
from client.bridge_evm import Evm, ensure_evm_key
from client.wallet import Wallet
from nodeutil import ROOT, free_port_base, height, rpc, wait_for_height

pytestmark = pytest.mark.integration

OPERATORS = [Wallet.from_seed(bytes([0x90 + i]) * 32) for i in range(4)]
FAUCET = Wallet.from_seed(b"\x9f" * 32)


def test_deposit_and_withdraw_across_a_real_testnet(tmp_path):
    preset = tomllib.loads((ROOT / "config/local.toml").read_text())
    manifest = init_testnet(tmp_path, 4, "bridge-1", preset, [w.address_bytes for w in OPERATORS],
                            FAUCET.address_bytes, port_base=free_port_base(60), timeout_commit="300ms")
    homes = [n["home"] for n in manifest["nodes"]]
    w3 = Web3(EthereumTesterProvider())
    deployer = Evm(w3, w3.eth.accounts[0])
    token = deployer.deploy("TestToken", "Test USD", "TUSD", 6)
    bridge, _ = setup_nodes(deployer, homes)
    for home in homes:
        deployer.fund(ensure_evm_key(home).checksum_address, 10**18)
    urls = [f"http://127.0.0.1:{n['rpc']}" for n in manifest["nodes"]]
    start_testnet(tmp_path)
    clients = [Client(u) for u in urls]
    try:
        for url in urls:
            wait_for_height(url, 2, timeout=90)
        orchestrators = [Orchestrator(RpcChain(clients[i], OPERATORS[i]), Evm(w3, ensure_evm_key(homes[i])),
                                      bridge.address, OPERATORS[i].address, ensure_evm_key(homes[i]),
                                      confirmations=1, relay=(i == 0)) for i in range(4)]

        def drive(until, timeout=90):
            deadline = time.monotonic() + timeout
            while not until():
                assert time.monotonic() < deadline, "bridge did not get there in time"
                w3.provider.ethereum_tester.mine_blocks(1)
                for o in orchestrators:
                    o.step()

        alice, user = Wallet.generate(), w3.eth.accounts[1]
        deployer.transact(token.functions.mint(user, 10**9))
        denom = voucher_denom(w3.eth.chain_id, bytes.fromhex(token.address[2:]))
        Evm(w3, user).deposit(bridge, token, 12_345, alice.address_bytes)
        started = time.monotonic()
        drive(lambda: clients[3].balances(alice.address).get(denom) == 12_345)
        deposit_seconds = time.monotonic() - started
        assert clients[1].balance(alice.address, denom, prove=True) == 12_345  # Merkle-proven on another node

        clients[0].send(FAUCET, alice.address, {"ugrad": 1_000_000})
        recipient = w3.eth.accounts[2]
        clients[2].submit(alice, [MsgWithdraw(evm_chain_id=w3.eth.chain_id, token=bytes.fromhex(token.address[2:]),
                                              amount="10000", evm_recipient=bytes.fromhex(recipient[2:]))])
        drive(lambda: token.functions.balanceOf(recipient).call() == 10_000
              and not clients[0].query_json("/bridge/withdrawals")["withdrawals"]
              and clients[0].query_json("/bridge/state")["last_event_nonce"] == bridge.functions.event_nonce().call())
        assert clients[3].balances(alice.address)[denom] == 2_345
        assert clients[0].supply()[denom] == token.functions.balanceOf(bridge.address).call() == 2_345
        top = min(height(u) for u in urls) - 1
        for h in range(max(1, top - 10), top + 1):
            assert len({rpc(u, "commit", height=str(h))["signed_header"]["header"]["app_hash"] for u in urls}) == 1
        print(f"deposit credited after {deposit_seconds:.1f}s")
    finally:
        for c in clients:
            c.close()
        stop_testnet(tmp_path)
