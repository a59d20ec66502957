"""A local 4-validator testnet bridged to an in-process py-evm chain, with one orchestrator per
validator: what the bridge's integration test and latency benchmark both run."""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path

from abci_app.ports import free_port_base
from abci_app.testnet import init_testnet, start_testnet, stop_testnet
from client import Client
from client.errors import RpcError
from relayer.deploy import setup_nodes
from relayer.orchestrator import Orchestrator, RpcChain


@dataclass
class BridgedTestnet:
    w3: object
    deployer: object      # relayer.evm.Evm of the account that deployed the contracts
    token: object         # a TestToken contract
    bridge: object        # the Bridge contract
    urls: list[str]
    clients: list[Client]
    orchestrators: list[Orchestrator]

    def drive(self, until, timeout: float = 90) -> None:
        """Mine EVM blocks and step every orchestrator until `until()` holds."""
        deadline = time.monotonic() + timeout
        while not until():
            if time.monotonic() > deadline:
                raise TimeoutError("the bridge did not get there in time")
            self.w3.provider.ethereum_tester.mine_blocks(1)
            for orchestrator in self.orchestrators:
                orchestrator.step()


def _wait_until_up(client: Client, height: int, timeout: float) -> None:
    """Nodes take a moment to open their RPC port: keep asking until the height is reached."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if client.rpc.latest_height() >= height:
                return
        except RpcError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{client.rpc.url} did not reach height {height} within {timeout}s")
        time.sleep(0.2)


@contextlib.contextmanager
def bridged_testnet(root: Path, chain_id: str, preset: dict, operators: list, faucet, *,
                    timeout_commit: str = "300ms", confirmations: int = 1, token=("Test USD", "TUSD", 6)):
    from web3 import EthereumTesterProvider, Web3

    from relayer.evm import Evm, ensure_evm_key

    manifest = init_testnet(root, len(operators), chain_id, preset, [w.address_bytes for w in operators],
                            faucet.address_bytes, port_base=free_port_base(10 * len(operators) + 20),
                            timeout_commit=timeout_commit)
    homes = [n["home"] for n in manifest["nodes"]]
    w3 = Web3(EthereumTesterProvider())
    deployer = Evm(w3, w3.eth.accounts[0])
    token_contract = deployer.deploy("TestToken", *token)
    bridge, _ = setup_nodes(deployer, homes)
    for home in homes:
        deployer.fund(ensure_evm_key(home).checksum_address, 10**18)
    urls = [f"http://127.0.0.1:{n['rpc']}" for n in manifest["nodes"]]
    start_testnet(root)
    clients = [Client(u) for u in urls]
    try:
        for client in clients:
            _wait_until_up(client, height=2, timeout=90)
        orchestrators = [Orchestrator(RpcChain(clients[i], operators[i]), Evm(w3, ensure_evm_key(homes[i])),
                                      bridge.address, operators[i].address, ensure_evm_key(homes[i]),
                                      confirmations=confirmations, relay=(i == 0)) for i in range(len(operators))]
        yield BridgedTestnet(w3, deployer, token_contract, bridge, urls, clients, orchestrators)
    finally:
        for client in clients:
            client.close()
        stop_testnet(root)
