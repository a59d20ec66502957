"""Trainers: seal a model update to the round's validator set and submit it (docs/rounds.md).

    trainer = Trainer(client, wallet)
    receipt = trainer.submit(model_id, update_bytes)      # the current round, parent = the head version
    trainer.round(model_id, round_)                       # window, sealing set, submissions

An update is a weight DELTA against its parent version (docs/rounds.md, "Update format"):

    delta = make_delta(parent_weights_bytes, new_weights_bytes, spec)     # chain-format weights in
    delta = delta_from_torch(parent_chain_model, trained_net)              # a locally trained torch net

The update is sealed locally (client/seal.py): nobody, the validators included, can read it before the
round's submission window closes and validators with >= 2/3 of the sealing set's power release their
key shares. Submitting escrows the model's per-update deposit.
"""
from __future__ import annotations

from typing import Callable

from chain.codec import u64
from chain.registry.model import window_end
from chain.scoring.spec import LOSS_NAMES
from chain.rounds.messages import MsgProveWithholding, MsgSubmitUpdate
from client.client import Client, Receipt
from client.errors import GradchainError
from chain.sealing.envelope import envelope_hash
from client.seal import seal_context, seal_with_key
from client.updates import FINAL_STATUSES, Submitted, delta_from_torch, follow, make_delta, submitted
from client.wallet import Wallet




def round_info(client: Client, model_id: int, round_: int) -> dict:
    """/rounds/round: the window, the sealing set (the round's snapshot, or the set its first submission
    would snapshot), the share plan and the submissions."""
    return client.query_json("/rounds/round", u64(model_id, round_))


def submission(client: Client, model_id: int, round_: int, seq: int) -> dict:
    return client.query_json("/rounds/submission", u64(model_id, round_, seq))


def sealing_set(info: dict) -> list[tuple[int, bytes, int]]:
    """The members listed in a round_info answer, UNVERIFIED (the node's word; tools and in-process tests).
    To seal for real use client.verified.sealing_set, as Trainer.seal does."""
    return [(m["index"], bytes.fromhex(m["encryption_pubkey"]), m["power"]) for m in info["sealing_set"]]


class Trainer:
    def __init__(self, client: Client, wallet: Wallet):
        self.client, self.wallet = client, wallet
        self.last_dp_report = None   # client.dp.DPReport of the last privatized update (epsilon so far)
        self.data_keys: dict[str, bytes] = {}   # envelope hash (hex) -> data key K, for prove_withholding

    def round(self, model_id: int, round_: int) -> dict:
        return round_info(self.client, model_id, round_)

    def seal(self, model_id: int, round_: int, update: bytes):
        """The envelope for `update`, sealed to round `round_`'s set for this trainer's address. The set is
        proven against a header verified by signatures (client/verified.py): a node that swaps in its own
        keys gets SealingSetInvalid here, before anything is encrypted to them."""
        proven = self.client.verified.sealing_set(model_id, round_)
        context = seal_context(self.client.chain_id, model_id, round_, self.wallet.address_bytes)
        envelope, key = seal_with_key(update, proven.members, context, max_total_shares=proven.max_total_shares)
        self.data_keys[envelope_hash(envelope).hex()] = key   # in memory only: it opens the update
        return envelope

    def submit(self, model_id: int, update: bytes, *, round_: int | None = None, parent_version: int | None = None,
               wait: bool = True) -> Receipt:
        """Seal and submit `update` (bytes) to `round_` (default: the round open for the next block), trained
        from `parent_version` (default: the head version). Raises TxFailed with the chain's code."""
        if not isinstance(update, (bytes, bytearray)) or not update:
            raise GradchainError("the update must be non-empty bytes")
        model = self.client.query_json("/registry/model", u64(model_id))
        if round_ is None:
            round_ = model.get("current_round")
            if round_ is None:
                raise GradchainError(f"model {model_id} is not taking submissions (status {model['status']})")
        if parent_version is None:
            parent_version = model["head_version"]
        envelope = self.seal(model_id, round_, bytes(update))
        msg = MsgSubmitUpdate(model_id=model_id, round=round_, parent_version=parent_version,
                              envelope=envelope.encode())
        return self.client.submit(self.wallet, [msg], wait=wait)

    # --- the whole loop: pull the head, train locally, seal, submit, wait for the verdict ----------------
    def head(self, model_id: int):
        """The model's head version as a client.model.ChainModel (spec and weights checked against their hashes)."""
        from client.training import head_model
        return head_model(self.client, model_id)

    def train_and_submit(self, model_id: int, X, y, *, train: Callable | None = None, dp=None, accountant=None,
                         ledger=None, round_: int | None = None, min_blocks_left: int = 2,
                         progress: bool = True, compress: bool = False) -> Submitted:
        """Train the current head on (X, y), which never leave this process, and submit the sealed delta.

        `train(net, X, y) -> net` is your training loop on a torch module built from the head (default:
        client.training's). `dp` (client.dp.DPConfig) clips the delta and adds noise on the integer grid;
        `accountant` (client.dp.PrivacyAccountant) then tracks epsilon across rounds in this process, and
        `ledger` (client.privacy_ledger.PrivacyLedger) across processes: with a ledger the submission is
        refused (EpsilonBudgetExceeded, before any training) if it would pass the budget set for this
        model, and recorded once committed. `round_` defaults to the open round, or the next one if fewer
        than `min_blocks_left` blocks remain in its window. `compress` sends the delta as int8 with a
        power-of-two scale per tensor (about 4x fewer bytes on chain, lossy: client.updates.compressed);
        open mode only (an aggregate-mode update is masked at 8 bytes per parameter anyway)."""
        if dp is not None and ledger is not None:
            with ledger.spend(self.client.chain_id, self.wallet.address, model_id, dp) as record:
                if accountant is None:   # the report's epsilon covers every process's rounds
                    accountant = ledger.accountant_of(ledger.entry(self.client.chain_id, self.wallet.address, model_id))
                sub = self._train_and_submit(model_id, X, y, train, dp, accountant, round_, min_blocks_left, progress,
                                             compress)
                record(sub.round, sub.receipt.tx_hash)
                return sub
        return self._train_and_submit(model_id, X, y, train, dp, accountant, round_, min_blocks_left, progress,
                                      compress)

    def _train_and_submit(self, model_id, X, y, train, dp, accountant, round_, min_blocks_left, progress,
                          compress=False) -> Submitted:
        from client.model import from_chain
        record = self.client.query_json("/registry/model", u64(model_id))
        if record.get("current_round") is None:
            raise GradchainError(f"model {model_id} is not taking submissions (status {record['status']})")
        if record.get("privacy") == "aggregate":
            from client.aggregate import join_and_submit
            return join_and_submit(self, record, X, y, train, dp, accountant, round_, min_blocks_left, progress)
        head = self.head(model_id)
        if train is None:   # client.training's loop: 5 epochs of SGD with momentum, the model's own loss
            from client.training import train as default_loop
            loss = LOSS_NAMES[head.spec.loss]
            train = lambda net, X_, y_: default_loop(net, (X_, y_), loss=loss, progress=progress)  # noqa: E731
        net = train(from_chain(head).float(), X, y)
        update = delta_from_torch(head, net)
        if dp is not None:
            from client.dp import encode_delta, privatize
            arrays, self.last_dp_report = privatize(update, head, dp, accountant)
            update = encode_delta(arrays)
        if compress:   # after DP: quantizing a privatized update is post-processing and keeps its guarantee
            from client.updates import compressed
            update = compressed(head, update)
        if round_ is None:
            round_ = self._round_with_room(model_id, min_blocks_left)
        return submitted(self.submit(model_id, update, round_=round_, parent_version=record["head_version"]))

    def _round_with_room(self, model_id: int, min_blocks_left: int) -> int:
        record = self.client.query_json("/registry/model", u64(model_id))
        round_ = record["current_round"]
        end = window_end(record["activated_height"], record["round_blocks"], round_)
        if end - (self.client.rpc.latest_height() + 1) < min_blocks_left:
            round_ += 1
            self.client.rpc.wait_for_height(end - 1, timeout=60.0 + 10.0 * min_blocks_left)
        return round_

    def wait_for_result(self, sub: Submitted, timeout: float = 600.0, poll: float = 0.5,
                        progress: bool = True, paid: bool = False) -> dict:
        """Poll the submission until it is settled (scored, deposit back or forfeited), invalid or void, and
        return its record: status, outcome, score, payout, reason. An accepted update's payout is pending
        (`payout_pending`) until a later round's fresh shard confirms its gain; with `paid=True` wait for
        that too (it needs a later round with submissions, or the model's close). A progress bar shows the
        status as it moves sealed -> opened -> scored -> settled."""
        if sub.member:
            from client.aggregate import wait_for_member
            return wait_for_member(self, sub, timeout, poll, progress, paid)
        steps = ["sealed", "opened", "scored", "final"]
        return follow(lambda: submission(self.client, sub.model_id, sub.round, sub.seq),
                      lambda r: 2 if "score" in r else steps.index(r["status"]),
                      desc=f"model {sub.model_id} round {sub.round} #{sub.seq}",
                      what=f"submission {sub.round}/{sub.seq} of model {sub.model_id}", timeout=timeout, poll=poll,
                      progress=progress, paid=paid)

    def prove_withholding(self, model_id: int, round_: int, seq: int, wait: bool = True) -> Receipt:
        """After a share shortfall voided this trainer's submission at its release deadline (status "void",
        reason "not enough shares by the deadline"; the deposit was refunded), show its data key so the
        chain penalises the sealing-set members that withheld their shares (docs/rounds.md, "Withholding").
        This publishes the key, and so the update: only do it if exposing this update is acceptable."""
        record = submission(self.client, model_id, round_, seq)
        key = self.data_keys.get(record["envelope_hash"])
        if key is None:
            raise GradchainError(f"no data key for submission {model_id}/{round_}/{seq} in this Trainer: it was "
                                 "sealed elsewhere or before this process started")
        msg = MsgProveWithholding(model_id=model_id, round=round_, seq=seq, key=key)
        return self.client.submit(self.wallet, [msg], wait=wait)

    def earnings(self) -> dict:
        """/rounds/earnings for this trainer: earned and forfeited per denom, and every submission."""
        return self.client.query_json("/rounds/earnings", self.wallet.address_bytes)


__all__ = ["FINAL_STATUSES", "Submitted", "Trainer", "delta_from_torch", "make_delta", "round_info", "sealing_set",
           "submission", "submitted"]
