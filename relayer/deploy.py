"""Bridge set-up before a chain starts: the genesis valset (deploy the contract with it), and the
genesis `bridge` section that names the deployed contract."""
from __future__ import annotations

import copy

PLACEHOLDER_CONTRACT = "0x" + "11" * 20


def genesis_valset(chain_id: str, app_state: dict, evm_addresses: dict[str, bytes]) -> list[tuple[bytes, int]]:
    """Valset 1 (EVM address, power) exactly as the chain will build it from this genesis, computed by
    importing the genesis into a throwaway in-memory state."""
    from chain.bridge import keeper
    from chain.genesis import import_genesis
    from chain.store.kv import MemoryKV
    from chain.store.state import CommittedStore, Overlay
    trial = with_bridge(app_state, 1, PLACEHOLDER_CONTRACT, evm_addresses, 0)
    state = Overlay(CommittedStore(MemoryKV()))
    import_genesis(state, chain_id, trial)
    valset = keeper.get_valset(state, 1)
    if valset is None:
        raise ValueError("no active validator has an EVM address: the bridge would have no signers")
    return keeper.valset_members(valset)


def with_bridge(app_state: dict, evm_chain_id: int, contract: str, evm_addresses: dict[str, bytes],
                start_evm_height: int, **params) -> dict:
    """A copy of app_state with a bridge section. evm_addresses: operator bech32 -> 20-byte EVM address."""
    state = copy.deepcopy(app_state)
    state["bridge"] = {
        "params": {"evm_chain_id": evm_chain_id, "contract": contract.lower(), **params},
        "start_evm_height": start_evm_height,
        "evm_addresses": [{"operator": op, "evm_address": "0x" + a.hex()} for op, a in sorted(evm_addresses.items())],
    }
    return state


def deploy_bridge(evm_, chain_id: str, app_state: dict, evm_addresses: dict[str, bytes], **params) -> tuple[object, dict]:
    """Deploy contracts/Bridge.vy with the genesis valset; returns (contract, app_state with the bridge)."""
    members = genesis_valset(chain_id, app_state, evm_addresses)
    w3 = evm_.w3
    contract = evm_.deploy("Bridge", [w3.to_checksum_address(a) for a, _ in members], [p for _, p in members], 1)
    height = w3.eth.block_number
    return contract, with_bridge(app_state, w3.eth.chain_id, contract.address, evm_addresses, height, **params)


def setup_nodes(evm_, homes: list) -> tuple[object, dict]:
    """For nodes that have not started yet: an EVM key per validator node (<home>/evm_key.json), the
    contract deployed with the genesis valset, and the bridge section written into every node's genesis.
    `evm_` pays for deployment. Returns (contract, the new app_state)."""
    import base64
    from pathlib import Path

    from abci_app.genesis_tools import consensus_pubkey
    from abci_app.node import read_genesis, write_genesis
    from relayer.evm import ensure_evm_key
    homes = [Path(h) for h in homes]
    genesis = read_genesis(homes[0])
    app_state = genesis.get("app_state") or {}
    if "bridge" in app_state:
        raise ValueError("this genesis already has a bridge section")
    by_key = {base64.b64decode(v["consensus_pubkey"]): v["operator"]
              for v in app_state.get("validators", {}).get("validators", [])}
    evm_addresses = {by_key[consensus_pubkey(h)]: ensure_evm_key(h).address for h in homes
                     if consensus_pubkey(h) in by_key}
    contract, app_state = deploy_bridge(evm_, genesis["chain_id"], app_state, evm_addresses)
    for home in homes:
        node_genesis = read_genesis(home)
        node_genesis["app_state"] = app_state
        write_genesis(home, node_genesis)
    return contract, app_state
