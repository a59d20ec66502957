"""The EVM side of the bridge, for orchestrators, relayers, users and tests: compile and deploy the
Vyper contracts, EVM keys that sign digests, deposits, and reading the contract's events.

Needs the `bridge` extra (vyper, web3, eth-account). web3 and vyper are imported only when used.
"""
from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path

from coincurve import PrivateKey

from chain.bridge.evm import address_of_public_key
from client.errors import GradchainError

CONTRACTS = Path(__file__).resolve().parent.parent / "contracts"
EVM_KEY_FILE = "evm_key.json"


class BridgeError(GradchainError):
    """An EVM call failed or the bridge contract refused it."""


@functools.lru_cache(maxsize=None)
def compiled(name: str) -> dict:
    """ABI and bytecode of contracts/<name>.vy, compiled with the pinned vyper (no committed artifacts)."""
    import vyper
    out = vyper.compile_code((CONTRACTS / f"{name}.vy").read_text(), output_formats=["abi", "bytecode"])
    return {"abi": out["abi"], "bytecode": out["bytecode"]}


@dataclass(frozen=True)
class EvmKey:
    """A secp256k1 key: signs bridge digests (r || s || v, v in {27, 28}, low s) and pays EVM gas."""
    secret: bytes

    @classmethod
    def generate(cls) -> "EvmKey":
        return cls(PrivateKey().secret)

    @classmethod
    def load(cls, path: str | Path) -> "EvmKey":
        path = Path(path)
        if not path.exists():
            raise BridgeError(f"no EVM key at {path}; create one with `gradchain bridge evm-key --home NODE_HOME`")
        return cls(bytes.fromhex(json.loads(path.read_text())["private_key"]))

    def save(self, path: str | Path) -> None:
        """Written once, readable by its owner only."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"type": "secp256k1", "private_key": self.secret.hex(), "address": self.checksum_address}, f,
                      indent=2)

    @property
    def address(self) -> bytes:
        return address_of_public_key(PrivateKey(self.secret).public_key.format(compressed=False))

    @property
    def checksum_address(self) -> str:
        from eth_utils import to_checksum_address
        return to_checksum_address(self.address)

    def sign(self, digest: bytes) -> bytes:
        raw = PrivateKey(self.secret).sign_recoverable(digest, hasher=None)
        return raw[:64] + bytes([raw[64] + 27])


def ensure_evm_key(home: str | Path) -> EvmKey:
    """The node's EVM key (<home>/evm_key.json), created on first use."""
    path = Path(home) / EVM_KEY_FILE
    if not path.exists():
        EvmKey.generate().save(path)
    return EvmKey.load(path)


def connect(url: str):
    """A web3 connection to any EVM JSON-RPC endpoint (http://, https://, ws://)."""
    from web3 import Web3
    provider = Web3.WebSocketProvider(url) if url.startswith("ws") else Web3.HTTPProvider(url)
    w3 = Web3(provider)
    if not w3.is_connected():
        raise BridgeError(f"cannot reach the EVM JSON-RPC at {url}")
    return w3


@functools.lru_cache(maxsize=None)
def _revert_errors() -> tuple[type[Exception], ...]:
    """What a refused call raises: web3's errors, and eth-tester's when the in-process EVM is used."""
    from web3.exceptions import ContractLogicError, Web3RPCError
    errors: tuple[type[Exception], ...] = (ContractLogicError, Web3RPCError)
    try:
        from eth_tester.exceptions import TransactionFailed
        errors += (TransactionFailed,)
    except ImportError:
        pass
    return errors


def split_signature(signature: bytes) -> tuple[int, bytes, bytes]:
    return signature[64], signature[:32], signature[32:64]


class Evm:
    """A web3 connection plus the sender of transactions: an EvmKey (signed locally) or an unlocked
    node account (address string, e.g. eth-tester's funded accounts)."""

    def __init__(self, w3, sender: EvmKey | str):
        self.w3, self.sender = w3, sender

    @property
    def sender_address(self) -> str:
        return self.sender.checksum_address if isinstance(self.sender, EvmKey) else self.sender

    def contract(self, address: str, name: str):
        return self.w3.eth.contract(address=self.w3.to_checksum_address(address), abi=compiled(name)["abi"])

    def deploy(self, name: str, *args):
        art = compiled(name)
        factory = self.w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
        receipt = self._send(factory.constructor(*args), gas=6_000_000)
        return self.contract(receipt["contractAddress"], name)

    def transact(self, fn, gas: int | None = None):
        """Send a contract call; returns the receipt. Raises BridgeError if the EVM reverts it."""
        return self._send(fn, gas)

    def _send(self, fn, gas: int | None):
        params = {"from": self.sender_address}
        if gas is not None:
            params["gas"] = gas
        try:
            if isinstance(self.sender, EvmKey):
                params["nonce"] = self.w3.eth.get_transaction_count(self.sender_address, "pending")
                tx = fn.build_transaction(params)
                signed = self.w3.eth.account.sign_transaction(tx, self.sender.secret)
                tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
            else:
                tx_hash = fn.transact(params)
        except _revert_errors() as e:
            raise BridgeError(f"the EVM refused the call: {e}") from None
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120)
        if receipt["status"] != 1:
            raise BridgeError(f"EVM transaction {tx_hash.hex()} reverted")
        return receipt

    def fund(self, to: str, wei: int) -> None:
        tx = {"from": self.sender_address, "to": to, "value": wei}
        if isinstance(self.sender, EvmKey):
            tx.update(nonce=self.w3.eth.get_transaction_count(self.sender_address, "pending"), gas=21000,
                      gasPrice=self.w3.eth.gas_price, chainId=self.w3.eth.chain_id)
            tx_hash = self.w3.eth.send_raw_transaction(self.w3.eth.account.sign_transaction(tx, self.sender.secret).raw_transaction)
        else:
            tx_hash = self.w3.eth.send_transaction(tx)
        self.w3.eth.wait_for_transaction_receipt(tx_hash)

    # --- user side --------------------------------------------------------------------------------
    def deposit(self, bridge, token, amount: int, destination: bytes):
        """Approve and lock `amount` of `token` for vouchers credited to gradchain address `destination`."""
        self.transact(token.functions.approve(bridge.address, amount))
        return self.transact(bridge.functions.deposit(token.address, amount, destination))


def contract_events(bridge, from_block: int, to_block: int) -> list[dict]:
    """Every Deposit, ValsetUpdated and BatchExecuted event in [from_block, to_block], by event nonce."""
    out = []
    for name in ("Deposit", "ValsetUpdated", "BatchExecuted"):
        for log in getattr(bridge.events, name)().get_logs(from_block=from_block, to_block=to_block):
            out.append({"kind": name, "block": log["blockNumber"], **dict(log["args"])})
    return sorted(out, key=lambda e: e["event_nonce"])
