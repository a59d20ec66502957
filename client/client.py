"""Client: talk to any node's RPC. Builds, signs and broadcasts txs; reads state, with proofs.

What the client shows as verified (`balance(prove=True)`, `client.verified.*`, the sealing set a trainer
seals to) is a Merkle proof checked against a header the light client verified by validator signatures
(client/light/, client/verified.py). Give it an anchor you got out of band (a height and that block's hash,
e.g. from genesis or a block explorer you trust): without one it trusts the first block the node shows it
(trust on first use), which a node that lies from the very first contact can fool.
"""
from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass

from chain.tx.address import from_bech32, to_bech32
from chain.tx.envelope import tx_hash
from chain.bank.messages import MsgSend
from client.errors import ProofInvalid, RpcError, TxFailed
from client.light.client import LightClient
from client.rpc import CometRPC
from client.txbuilder import coins as make_coins
from client.txbuilder import sign_with_min_fee
from client.verified import VerifiedState
from client.wallet import Wallet

BALANCE_PREFIX = b"bank/b/"  # state layout, docs/state.md


@dataclass(frozen=True)
class Receipt:
    tx_hash: str
    height: int
    gas_used: int
    events: list


def _addr(address: str | bytes) -> bytes:
    return address if isinstance(address, bytes) else from_bech32(address)


class Client:
    def __init__(self, url: str = "http://127.0.0.1:26657", timeout: float = 30.0, *,
                 trusted_height: int | None = None, trusted_hash: bytes | str | None = None,
                 light: LightClient | None = None, query_height: int = 0):
        """`trusted_height` + `trusted_hash` anchor the light client (recommended); `light` gives a ready one
        (e.g. one whose trusted state another Client already built). `query_height` (0: the latest) is the
        height every read answers at unless a call names one (within the node's query_retention_blocks);
        what a tx needs (sequence, fee params) is always read at the latest."""
        self.rpc = CometRPC(url, timeout)
        self.query_height = query_height
        if isinstance(trusted_hash, str):
            try:
                trusted_hash = bytes.fromhex(trusted_hash)
            except ValueError:
                raise ProofInvalid(f"the trusted hash {trusted_hash!r} is not hex") from None
        self._anchor = (trusted_height, trusted_hash)
        self._light = light
        self.verified = VerifiedState(self)
        self._chain_id: str | None = None
        self._params: dict | None = None
        self._next_sequence: dict[bytes, int] = {}

    def close(self) -> None:
        self.rpc.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- reads -------------------------------------------------------------------------------
    @property
    def chain_id(self) -> str:
        if self._chain_id is None:
            self._chain_id = self.rpc.status()["node_info"]["network"]
        return self._chain_id

    @property
    def light(self) -> LightClient:
        """The light client every verified read goes through (built on first use)."""
        if self._light is None:
            height, digest = self._anchor
            self._light = LightClient(self.rpc, self.chain_id, trusted_height=height, trusted_hash=digest)
        return self._light

    def params(self) -> dict:
        if self._params is None:
            self._params = self.query_json("/auth/params", height=0)
        return self._params

    def query_json(self, path: str, data: bytes = b"", height: int | None = None) -> dict:
        """A JSON query, at the latest height or at `height` (within the node's query_retention_blocks;
        outside it TxFailed query/3 names the oldest height kept). Not verified: the node's word."""
        response = self._query(path, data, height)
        return json.loads(base64.b64decode(response.get("value") or ""))

    def _query(self, path: str, data: bytes, height: int | None = None, prove: bool = False) -> dict:
        height = self.query_height if height is None else height
        response = self.rpc.abci_query(path, data, height=height, prove=prove)
        if int(response.get("code", 0)):
            raise TxFailed(response.get("codespace", ""), int(response["code"]), response.get("log", ""))
        if height and int(response.get("height", 0)) != height:
            raise ProofInvalid(f"asked for height {height}, the node answered for {response.get('height')}")
        return response

    def sequence(self, address: str | bytes) -> int:
        return self.query_json("/auth/account", _addr(address), height=0)["sequence"]

    def balances(self, address: str | bytes, height: int | None = None) -> dict[str, int]:
        reply = self.query_json("/bank/balances", _addr(address), height=height)
        return {b["denom"]: int(b["amount"]) for b in reply["balances"]}

    def supply(self) -> dict[str, int]:
        return {s["denom"]: int(s["amount"]) for s in self.query_json("/bank/supply")["supply"]}

    def validators(self) -> list[dict]:
        return self.query_json("/validators")["validators"]

    def balance(self, address: str | bytes, denom: str, prove: bool = True, height: int | None = None) -> int:
        """One balance, at the latest height or at `height` (within the node's retention). With prove=True
        (default) the answer is checked with a Merkle proof against the app hash of a header verified by
        validator signatures (self.light; header height + 1); a bad proof raises ProofInvalid, a header
        that does not verify a LightClientError."""
        address = _addr(address)
        response = self._query("/bank/balance", address + denom.encode(), height=height, prove=prove)
        key = base64.b64decode(response.get("key") or "")
        value = base64.b64decode(response.get("value") or "")
        if key != BALANCE_PREFIX + address + denom.encode():
            raise ProofInvalid("node answered for a different state key than asked")
        if prove:
            self.verify_query_proof(response, key, value or None)
        return int.from_bytes(value, "big") if value else 0

    def verify_query_proof(self, response: dict, key: bytes, value: bytes | None) -> None:
        """Check a query's proof against the light-verified header after its height (ProofInvalid, or a
        LightClientError if the header itself cannot be verified)."""
        self.verified.check(response, key, value)

    # --- writes ------------------------------------------------------------------------------
    def send(self, wallet: Wallet, to: str | bytes, amounts, memo: str = "", wait: bool = True) -> Receipt:
        msg = MsgSend(to_address=_addr(to), amount=make_coins(amounts))
        return self.submit(wallet, [msg], memo=memo, wait=wait)

    def submit(self, wallet: Wallet, messages: list, memo: str = "", wait: bool = True) -> Receipt:
        """Sign with the next sequence and the minimum fee, broadcast, and (by default) wait until
        the tx is in a block. Raises TxFailed with the chain's error if the tx is rejected or fails."""
        address = wallet.address_bytes
        sequence = self._next_sequence.get(address)
        if sequence is None:
            sequence = self.sequence(address)
        raw = sign_with_min_fee(wallet, self.chain_id, sequence, messages, self.params(), memo)
        try:
            receipt = self.broadcast(raw, wait=wait)
        except TxFailed as e:
            if e.height == 0:  # rejected before a block: the sequence was not used, re-read it next time
                self._next_sequence.pop(address, None)
            else:
                self._next_sequence[address] = sequence + 1
            raise
        self._next_sequence[address] = sequence + 1
        return receipt

    def broadcast(self, raw: bytes, wait: bool = True, timeout: float = 60.0) -> Receipt:
        digest = tx_hash(raw)
        reply = self.rpc.broadcast_tx_sync(raw)
        if int(reply.get("code", 0)):
            raise TxFailed(reply.get("codespace", ""), int(reply["code"]), reply.get("log", ""), digest.hex().upper())
        if not wait:
            return Receipt(digest.hex().upper(), 0, 0, [])
        deadline = time.monotonic() + timeout
        while (found := self.rpc.tx(digest)) is None:
            if time.monotonic() > deadline:
                raise RpcError(f"tx {digest.hex().upper()} not committed within {timeout}s")
            time.sleep(0.2)
        result, height = found["tx_result"], int(found["height"])
        if int(result.get("code", 0)):
            raise TxFailed(result.get("codespace", ""), int(result["code"]), result.get("log", ""),
                           digest.hex().upper(), height)
        return Receipt(digest.hex().upper(), height, int(result.get("gas_used", 0)), result.get("events", []))


__all__ = ["Client", "Receipt", "to_bech32"]
