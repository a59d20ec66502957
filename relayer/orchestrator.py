"""The bridge orchestrator a validator runs beside its node (Gravity-Bridge style).

Each `step()`:
1. reads the bridge contract's events up to `confirmations` blocks below the EVM head and claims, in
   gapless event-nonce order, every event the chain has not attested and this validator has not claimed;
2. signs, with the validator's EVM key, every valset and batch the chain asks its signing set to sign;
3. (relayer) submits to the contract every valset update and batch the chain holds > 2/3 of the
   contract's mirrored power of signatures for, oldest first.

The chain side is any object with `query(path, data=b"") -> dict` and `submit(messages)`: `RpcChain`
talks to a node's RPC; tests drive an Application in process. Nothing here is consensus code: a
faulty orchestrator can only fail to claim or sign, and its claims count only with > 2/3 of the power.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from chain.bridge import evm
from chain.bridge.messages import (MsgBatchExecutedClaim, MsgConfirmBatch, MsgConfirmValset, MsgDepositClaim,
                                   MsgValsetUpdatedClaim)
from chain.bridge.messages import (MsgBatchExecutedClaim, MsgConfirmBatch, MsgConfirmValset, MsgDepositClaim,
                                   MsgValsetUpdatedClaim)
from relayer.evm import BridgeError, Evm, EvmKey, contract_events, split_signature

log = logging.getLogger("gradchain.orchestrator")


class RpcChain:
    """The chain through a node's CometBFT RPC, signing as the validator's operator."""

    def __init__(self, client, wallet):
        self.client, self.wallet = client, wallet

    def query(self, path: str, data: bytes = b"") -> dict:
        return self.client.query_json(path, data)

    def submit(self, messages: list) -> None:
        self.client.submit(self.wallet, messages)


@dataclass
class StepReport:
    claims: list[int] = field(default_factory=list)          # event nonces claimed
    valset_confirms: list[int] = field(default_factory=list)
    batch_confirms: list[int] = field(default_factory=list)
    relayed_valsets: list[int] = field(default_factory=list)
    relayed_batches: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _hex20(text: str) -> bytes:
    return bytes.fromhex(text[2:])


class Orchestrator:
    def __init__(self, chain, evm_: Evm, bridge_address: str, operator: str, evm_key: EvmKey,
                 confirmations: int = 6, relay: bool = True, max_block_range: int = 2000, max_claims_per_tx: int = 32):
        """operator: the validator operator's bech32 address; evm_key: its registered EVM key
        (also pays gas when relaying, so fund it on the EVM chain)."""
        self.chain, self.evm, self.operator, self.key = chain, evm_, operator, evm_key
        self.bridge = evm_.contract(bridge_address, "Bridge")
        self.confirmations, self.relay = confirmations, relay
        self.max_block_range, self.max_claims_per_tx = max_block_range, max_claims_per_tx
        self._events: dict[int, dict] = {}  # event nonce -> event, seen but not yet attested
        self._cursor: int | None = None     # next EVM block to scan

    # --- one pass ------------------------------------------------------------------------------
    def step(self) -> StepReport:
        report = StepReport()
        params = self.chain.query("/bridge/params")
        messages = self._claims(params, report) + self._confirms(params, report)
        if messages:
            try:
                self.chain.submit(messages)
            except Exception as e:  # noqa: BLE001  reported, retried next step
                report.errors.append(f"submit: {e}")
        if self.relay:
            self._relay(report)
        return report

    def run(self, interval: float = 1.0, stop: threading.Event | None = None) -> None:
        stop = stop or threading.Event()
        while not stop.is_set():
            try:
                report = self.step()
                if report.claims or report.valset_confirms or report.batch_confirms or report.relayed_batches \
                        or report.relayed_valsets or report.errors:
                    log.info("orchestrator step", extra={"report": report.__dict__})
            except Exception as e:  # noqa: BLE001  a flaky RPC must not stop the orchestrator
                log.warning("orchestrator step failed: %s", e)
            stop.wait(interval)

    # --- 1. claims ---------------------------------------------------------------------------------
    def _claims(self, params: dict, report: StepReport) -> list:
        me = [o for o in self.chain.query("/bridge/orchestrators")["orchestrators"] if o["operator"] == self.operator]
        if not me or me[0]["power"] == 0:
            return []  # only active validators' claims count (a validator that left still signs, below)
        state = self.chain.query("/bridge/state")
        last = state["last_event_nonce"]
        if self._cursor is None:
            self._cursor = state["last_evm_height"]
        safe = self.evm.w3.eth.block_number - self.confirmations
        if safe >= self._cursor:
            to = min(safe, self._cursor + self.max_block_range)
            for event in contract_events(self.bridge, self._cursor, to):
                self._events[event["event_nonce"]] = event
            self._cursor = to + 1
        self._events = {n: e for n, e in self._events.items() if n > last}
        mine = {v["event_nonce"] for v in self.chain.query("/bridge/votes")["votes"] if v["operator"] == self.operator}
        messages, nonce = [], last + 1
        while nonce in self._events and len(messages) < self.max_claims_per_tx:
            if nonce not in mine:
                messages.append(self._claim(params["evm_chain_id"], self._events[nonce]))
                report.claims.append(nonce)
            nonce += 1
        return messages

    @staticmethod
    def _claim(evm_chain_id: int, e: dict):
        head = {"evm_chain_id": evm_chain_id, "event_nonce": e["event_nonce"], "evm_height": e["block"]}
        if e["kind"] == "Deposit":
            return MsgDepositClaim(**head, token=_hex20(e["token"]), sender=_hex20(e["sender"]),
                                   destination=bytes(e["destination"]), amount=str(e["amount"]), decimals=e["decimals"])
        if e["kind"] == "ValsetUpdated":
            return MsgValsetUpdatedClaim(**head, valset_nonce=e["valset_nonce"])
        return MsgBatchExecutedClaim(**head, token=_hex20(e["token"]), batch_nonce=e["batch_nonce"])

    # --- 2. signatures -----------------------------------------------------------------------------
    def _confirms(self, params: dict, report: StepReport) -> list:
        contract, chain_id = _hex20(params["contract"]), params["evm_chain_id"]
        me = self.key.address
        valsets = self.chain.query("/bridge/valsets")
        by_nonce = {v["nonce"]: v for v in valsets["valsets"]}

        def in_set(nonce: int) -> bool:
            return nonce in by_nonce and any(_hex20(a) == me for a, _ in by_nonce[nonce]["members"])

        def signed(item: dict) -> bool:
            return any(c["operator"] == self.operator for c in item["confirms"])

        messages = []
        for v in valsets["valsets"]:
            if v["nonce"] > valsets["contract_valset_nonce"] and in_set(v["nonce"] - 1) and not signed(v):
                members = [(_hex20(a), p) for a, p in v["members"]]
                digest = evm.valset_digest(contract, chain_id, v["nonce"], members)
                messages.append(MsgConfirmValset(valset_nonce=v["nonce"], signature=self.key.sign(digest)))
                report.valset_confirms.append(v["nonce"])
        for b in self.chain.query("/bridge/batches")["batches"]:
            if in_set(b["valset_nonce"]) and not signed(b):
                transfers = [(_hex20(r), int(a)) for r, a in b["transfers"]]
                digest = evm.batch_digest(contract, chain_id, _hex20(b["token"]), b["nonce"], b["valset_nonce"], transfers)
                messages.append(MsgConfirmBatch(batch_nonce=b["nonce"], signature=self.key.sign(digest)))
                report.batch_confirms.append(b["nonce"])
        return messages

    # --- 3. relaying -------------------------------------------------------------------------------
    def _aligned_signatures(self, members: list[str], powers: list[int], total: int, digest: bytes,
                            confirms: list[dict]):
        """v, r, s lists aligned with the contract's current members, or None below 2/3 of its power."""
        by_address = {c["evm_address"].lower(): bytes.fromhex(c["signature"][2:]) for c in confirms}
        v, r, s, power = [], [], [], 0
        for address, member_power in zip(members, powers):
            signature = by_address.get(address.lower())
            if signature is not None and evm.recover_address(digest, signature) == _hex20(address.lower()):
                sv, sr, ss = split_signature(signature)
                power += member_power
            else:
                sv, sr, ss = 0, b"\x00" * 32, b"\x00" * 32
            v.append(sv), r.append(sr), s.append(ss)
        return (v, r, s) if 3 * power > 2 * total else None

    def _relay(self, report: StepReport) -> None:
        contract_members, contract_powers, contract_nonce = self.bridge.functions.current_valset().call()
        total = sum(contract_powers)
        for v in self.chain.query("/bridge/valsets")["valsets"]:
            if v["nonce"] <= contract_nonce:
                continue
            sigs = self._aligned_signatures(contract_members, contract_powers, total, _hex20(v["digest"]), v["confirms"])
            if sigs is None:
                break  # valsets go in order
            members = [self.evm.w3.to_checksum_address(a) for a, _ in v["members"]]
            powers = [p for _, p in v["members"]]
            try:
                self.evm.transact(self.bridge.functions.update_valset(members, powers, v["nonce"], *sigs))
            except BridgeError as e:
                report.errors.append(f"valset {v['nonce']}: {e}")  # e.g. another relayer was first
                return
            report.relayed_valsets.append(v["nonce"])
            contract_members, contract_powers, contract_nonce = members, powers, v["nonce"]
            total = sum(powers)
        for b in self.chain.query("/bridge/batches")["batches"]:
            token = self.evm.w3.to_checksum_address(b["token"])
            if b["valset_nonce"] != contract_nonce or b["nonce"] <= self.bridge.functions.last_batch_nonce(token).call():
                continue
            sigs = self._aligned_signatures(contract_members, contract_powers, total, _hex20(b["digest"]), b["confirms"])
            if sigs is None:
                continue
            recipients = [self.evm.w3.to_checksum_address(r) for r, _ in b["transfers"]]
            amounts = [int(a) for _, a in b["transfers"]]
            try:
                self.evm.transact(self.bridge.functions.submit_batch(token, b["nonce"], b["valset_nonce"],
                                                                     recipients, amounts, *sigs))
            except BridgeError as e:
                report.errors.append(f"batch {b['nonce']}: {e}")
                continue
            report.relayed_batches.append(b["nonce"])
