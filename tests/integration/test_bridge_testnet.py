"""The bridge on a real 4-validator CometBFT testnet: every validator's orchestrator talks to its own
node over RPC; the EVM is py-evm in this process. Deposit -> vouchers on every node -> withdraw ->
ERC-20 released, with app hashes agreeing and supply equal to what the contract holds."""
import time
import tomllib

import pytest

from chain.bridge.keeper import voucher_denom
from chain.bridge.messages import MsgWithdraw
from client.wallet import Wallet
from nodeutil import ROOT, height, rpc
from relayer.evm import Evm
from relayer.testnet import bridged_testnet

pytestmark = pytest.mark.integration

OPERATORS = [Wallet.from_seed(bytes([0x90 + i]) * 32) for i in range(4)]
FAUCET = Wallet.from_seed(b"\x9f" * 32)


def test_deposit_and_withdraw_across_a_real_testnet(tmp_path):
    preset = tomllib.loads((ROOT / "config/local.toml").read_text())
    with bridged_testnet(tmp_path, "bridge-1", preset, OPERATORS, FAUCET) as net:
        w3, deployer, token, bridge, urls, clients = net.w3, net.deployer, net.token, net.bridge, net.urls, net.clients
        drive = net.drive

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
