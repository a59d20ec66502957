"""Model owners: register a model with hidden validation shards and a bounty, upload its weights, reveal
a shard after each round, fund and close. Read helpers for everyone: model, models, versions, weights.

    owner = Owner(client, wallet)
    reg = owner.register(net, X_val, y_val, shard_size=200, bounty="1000000uusdc", bond="5000000ugrad",
                         deposit="1000ugrad", target_score=950_000, expiry_blocks=10_000)
    ...                                          # keep reg.shards secret: they are the hidden validation set
    owner.reveal(reg.model_id, 0, reg.shards, 0)   # after round 0's submissions close
    versions(client, reg.model_id)                 # each version's score per round

Torch is needed only to convert a torch.nn.Sequential (client.model); a ChainModel works without it.
"""
from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import threading
from typing import NamedTuple

from chain.codec import u64
from chain.tx.coins import Coin
from chain.registry.messages import BPS, CurvePoint, MsgFundBounty, MsgRegisterModel, MsgUploadWeights
from chain.registry.model import reveal_deadline, window_end
from chain.rounds.messages import MsgCloseModel, MsgRevealShard
from client.client import Client, Receipt
from client.coins import parse_coin
from client.errors import GradchainError, TxFailed
from client.model import ChainModel, Formats, ModelError, ShardSet, build_shards, to_chain
from client.wallet import Wallet

LINEAR_CURVE = ((0, 0), (BPS, BPS))  # payout proportional to progress
# CometBFT's RPC refuses request bodies above rpc.max_body_bytes (1,000,000 by default); a tx travels
# base64-encoded in JSON, so about 740 KB of tx fit, whatever the chain's max_tx_bytes.
RPC_TX_LIMIT = 740_000


class Registration(NamedTuple):
    model_id: int
    shards: ShardSet   # the hidden validation shards: keep them (privately) to reveal one per round


def coin(value) -> Coin:
    """"100ugrad", ("ugrad", 100), {"ugrad": 100} or a Coin -> Coin."""
    if isinstance(value, Coin):
        return value
    if isinstance(value, str):
        denom, amount = parse_coin(value)
        return Coin.of(denom, amount)
    if isinstance(value, dict) and len(value) == 1:
        (denom, amount), = value.items()
        return Coin.of(denom, int(amount))
    if isinstance(value, tuple) and len(value) == 2:
        return Coin.of(value[0], int(value[1]))
    raise GradchainError(f"cannot read {value!r} as one coin: use '100ugrad', ('ugrad', 100) or {{'ugrad': 100}}")


# --- reads (anyone) ----------------------------------------------------------------------------------
def _query(client: Client, path: str, data: bytes = b"") -> bytes:
    response = client.rpc.abci_query(path, data)
    if int(response.get("code", 0)):
        raise TxFailed(response.get("codespace", ""), int(response["code"]), response.get("log", ""))
    return base64.b64decode(response.get("value") or "")


def registry_params(client: Client) -> dict:
    return json.loads(_query(client, "/registry/params"))


def models(client: Client) -> list[dict]:
    return json.loads(_query(client, "/registry/models"))["models"]


def model(client: Client, model_id: int) -> dict:
    """The model's record: owner, status, escrow, bond, head version, rounds (revealed shards), terms."""
    return json.loads(_query(client, "/registry/model", u64(model_id)))


def versions(client: Client, model_id: int) -> dict:
    """{"head_version", "metric", "versions": [{"version", "parent", "weights_hash", "scores": [...]}]}."""
    return json.loads(_query(client, "/registry/versions", u64(model_id)))


def weights(client: Client, model_id: int, version: int | None = None) -> bytes:
    """The canonical weight bytes of a version (default: the head), checked against its recorded hash."""
    if version is None:
        version = model(client, model_id)["head_version"]
    raw = _query(client, "/registry/weights", u64(model_id, version))
    record = next((v for v in versions(client, model_id)["versions"] if v["version"] == version), None)
    if record is None or hashlib.sha256(raw).hexdigest() != record["weights_hash"]:
        raise GradchainError(f"node answered weights for model {model_id} version {version} that do not match "
                             f"their recorded hash: do not use them")
    return raw


def spec(client: Client, model_id: int) -> bytes:
    return _query(client, "/registry/spec", u64(model_id))


def shard(client: Client, model_id: int, index: int) -> bytes | None:
    """A revealed validation shard's bytes (None if not revealed yet)."""
    return _query(client, "/registry/shard", u64(model_id, index)) or None


def round_end(record: dict, round_: int) -> int:
    """The first height after round `round_`'s submissions: the owner may reveal its shard from here on."""
    return window_end(record["activated_height"], record["round_blocks"], round_)


def _registered_id(receipt: Receipt) -> int:
    for event in receipt.events:
        if event.get("type") == "register_model":
            for attribute in event.get("attributes", []):
                if attribute.get("key") == "model_id":
                    return int(attribute["value"])
    raise GradchainError(f"tx {receipt.tx_hash} registered no model (no register_model event)")


class Owner:
    def __init__(self, client: Client, wallet: Wallet):
        self.client, self.wallet = client, wallet
        self._next_round: dict[int, int] = {}   # per model, the first round reveal_due has not settled

    # --- reads, for convenience ---------------------------------------------------------------------
    def model(self, model_id: int) -> dict:
        return model(self.client, model_id)

    def versions(self, model_id: int) -> dict:
        return versions(self.client, model_id)

    def weights(self, model_id: int, version: int | None = None) -> bytes:
        return weights(self.client, model_id, version)

    # --- writes ---------------------------------------------------------------------------------------
    def register(self, net, X, y, shard_size: int, bounty, *, bond, deposit, target_score: int,
                 expiry_height: int | None = None, expiry_blocks: int | None = None, round_blocks: int = 100,
                 reveal_blocks: int = 20, min_improvement: int = 0, max_regression: int = 0, metric: str = "accuracy",
                 reward_curve=LINEAR_CURVE, input_shape=None, formats: Formats = Formats(),
                 privacy: str = "open", cohort_size: int = 0, aggregator: str = "fedavg",
                 progress: bool = True) -> Registration:
        """Convert `net` (a torch.nn.Sequential, or a ChainModel), cut (X, y) into validation shards, register
        with their Merkle root, escrow `bounty` + `bond`, then upload the weights in chunks (progress bar).

        Score units (target_score, min_improvement, max_regression): metric "accuracy" counts parts per
        million of samples correct; "loss" is the mean per-sample loss at the spec's loss scale
        (docs/registry.md). An update scoring more than max_regression (0: min_improvement) below its
        parent on the round's shard is harmful and forfeits its deposit: leave room for honest trainers
        whose private data is skewed.

        privacy "aggregate" with cohort_size k: the chain never opens a single update, only the means of
        cohorts of k..2k-1 masked updates (docs/privacy.md); trainers' SDK calls are the same."""
        params = registry_params(self.client)
        if isinstance(net, ChainModel):
            chain_model = net
        else:
            shape = tuple(input_shape) if input_shape is not None else tuple(getattr(X, "shape", ())[1:])
            chain_model = to_chain(net, input_shape=shape, formats=formats, max_params=params["max_params"])
        if not 1 <= shard_size <= params["max_shard_samples"]:
            raise ModelError(f"shard_size must be 1..{params['max_shard_samples']} (the chain's max_shard_samples)")
        shards = build_shards(X, y, chain_model.spec, shard_size)
        if len(shards.shards) > params["max_shards"]:
            raise ModelError(f"{len(shards.shards)} shards; the chain allows {params['max_shards']}: "
                             f"raise shard_size or use fewer validation samples")
        _refuse_never_pay(chain_model, shards, metric, target_score)
        limit = min(self.client.params()["max_tx_bytes"], RPC_TX_LIMIT)
        if max(len(s) for s in shards.shards) + 4096 > limit:
            raise ModelError(f"a shard of {shard_size} samples ({max(len(s) for s in shards.shards)} bytes) does not "
                             f"fit in one tx ({limit} bytes): lower shard_size")
        if expiry_height is None:
            if expiry_blocks is None:
                raise GradchainError("give expiry_height or expiry_blocks")
            expiry_height = self.client.rpc.latest_height() + expiry_blocks
        raw_weights = chain_model.weights_bytes
        msg = MsgRegisterModel(
            spec=chain_model.spec_bytes, weights_hash=hashlib.sha256(raw_weights).digest(),
            weights_size=len(raw_weights), shard_root=shards.root, shard_count=len(shards.shards),
            bounty=coin(bounty), bond=coin(bond), round_blocks=round_blocks, reveal_blocks=reveal_blocks,
            min_improvement=min_improvement, deposit=coin(deposit), target_score=target_score, metric=metric,
            reward_curve=tuple(CurvePoint(progress_bps=p, payout_bps=q) for p, q in reward_curve),
            expiry_height=expiry_height, max_regression=max_regression, privacy=privacy, cohort_size=cohort_size,
            aggregator=aggregator)
        model_id = _registered_id(self.client.submit(self.wallet, [msg]))
        self.upload(model_id, raw_weights, progress=progress)
        return Registration(model_id, shards)

    def upload(self, model_id: int, raw_weights: bytes, progress: bool = True) -> None:
        """Send the weight chunks the chain still lacks, pipelined (one tx per chunk, all broadcast before
        waiting), then check every chunk's result. Resumable: run it again after an interruption."""
        from tqdm import tqdm

        record = model(self.client, model_id)
        if record["status"] != "uploading":
            return
        size = record["chunk_size"]
        starts = range(0, len(raw_weights), size)
        if len(raw_weights) != record["weights_size"]:
            raise GradchainError(f"model {model_id} expects {record['weights_size']} weight bytes, got {len(raw_weights)}")
        sent: list[str] = []
        with tqdm(total=len(raw_weights), unit="B", unit_scale=True, desc=f"model {model_id} weights",
                  disable=not progress) as bar:
            for index, start in enumerate(starts):
                chunk = raw_weights[start:start + size]
                if _query(self.client, "/store", _chunk_key(model_id, index)):
                    bar.update(len(chunk))
                    continue  # stored by an earlier, interrupted upload
                last = index == len(starts) - 1
                receipt = self.client.submit(self.wallet, [MsgUploadWeights(model_id=model_id, index=index, data=chunk)],
                                             wait=last)
                sent.append(receipt.tx_hash)
                bar.update(len(chunk))
        for digest in sent:  # the last one waited for its block; every earlier one is in that block or before
            found = self.client.rpc.tx(bytes.fromhex(digest))
            if found is None:
                raise GradchainError(f"chunk tx {digest} was not committed; run upload() again to resume")
            result = found["tx_result"]
            if int(result.get("code", 0)):
                raise TxFailed(result.get("codespace", ""), int(result["code"]), result.get("log", ""), digest,
                               int(found["height"]))

    def reveal(self, model_id: int, round_: int, shard_set: ShardSet, index: int, wait_for_window: bool = True) -> Receipt:
        """Reveal shard `index` for round `round_` with its Merkle proof (pays the scoring fee: samples x
        multiply-adds per sample x fee_per_work_unit). By default waits until the round's submissions closed."""
        if not 0 <= index < len(shard_set.shards):
            raise GradchainError(f"shard index {index} is not in 0..{len(shard_set.shards) - 1}")
        if wait_for_window:
            end = round_end(model(self.client, model_id), round_)
            blocks = end - 1 - self.client.rpc.latest_height()
            if blocks > 0:
                self.client.rpc.wait_for_height(end - 1, timeout=60.0 + 10.0 * blocks)
        msg = MsgRevealShard(model_id=model_id, round=round_, shard=shard_set.shards[index], shard_index=index,
                             proof=shard_set.proof(index).encode())
        return self.client.submit(self.wallet, [msg])

    def reveal_due(self, model_id: int, shard_set: ShardSet) -> list[Receipt]:
        """Reveal, with the next unused shard, every round whose submissions have closed, that took at least
        one submission (aggregate mode: a cohort that sums) and has no shard yet, while its reveal window is
        open. Rounds nobody submitted to are skipped: they need no shard, and shards are finite. Returns the reveals sent (oldest first)."""
        record = self.model(model_id)
        if record["status"] != "active":
            return []
        height = self.client.rpc.latest_height()          # the reveal lands in height + 1 or later
        revealed = {r["round"] for r in record["rounds"]}
        used = {r["shard_index"] for r in record["rounds"]}
        free = [i for i in range(len(shard_set.shards)) if i not in used]
        receipts = []
        start = self._next_round.get(model_id, 0)
        for round_ in range(start, 1 << 62):
            end = round_end(record, round_)
            if end > height + 1:
                break                                      # still taking submissions
            deadline = reveal_deadline(record["activated_height"], record["round_blocks"], record["reveal_blocks"],
                                       round_)
            if round_ in revealed or height + 1 >= deadline:
                self._next_round[model_id] = round_ + 1     # done, or too late to reveal
                continue
            info = self.client.query_json("/rounds/round", u64(model_id, round_))
            # aggregate mode: a cohort's mean appears a few blocks after the window, once unmasked
            summing = any(c["status"] in ("unmasking", "unmasked") for c in info.get("cohort_list", []))
            if not info["submissions"] and not summing:
                self._next_round[model_id] = round_ + 1
                continue
            if not free:
                raise GradchainError(f"model {model_id} has no unrevealed shard left for round {round_}: "
                                     "trainers of this round will be compensated from the bond")
            receipts.append(self.reveal(model_id, round_, shard_set, free.pop(0), wait_for_window=False))
            self._next_round[model_id] = round_ + 1
        return receipts

    @contextlib.contextmanager
    def auto_reveal(self, model_id: int, shard_set: ShardSet, poll: float = 0.5, on_reveal=None):
        """While the `with` block runs, a background thread reveals each round's shard as soon as its
        submissions close (reveal_due). It uses its own connection and this owner's wallet; do not send
        other txs from the same wallet meanwhile (sequence numbers). Errors are re-raised on exit."""
        stop, errors = threading.Event(), []
        worker = Owner(Client(self.client.rpc.url), self.wallet)

        def loop():
            while not stop.is_set():
                try:
                    for receipt in worker.reveal_due(model_id, shard_set):
                        if on_reveal is not None:
                            on_reveal(receipt)
                except Exception as e:  # noqa: BLE001 - reported to the caller on exit
                    errors.append(e)
                    return
                stop.wait(poll)

        thread = threading.Thread(target=loop, name=f"auto-reveal-{model_id}", daemon=True)
        thread.start()
        try:
            yield worker
        finally:
            stop.set()
            thread.join()
            worker.client.close()
        if errors:
            raise errors[0]

    def fund(self, model_id: int, amount) -> Receipt:
        """Add to a model's bounty (anyone may; in the bounty's denom)."""
        return self.client.submit(self.wallet, [MsgFundBounty(model_id=model_id, amount=coin(amount))])

    def close(self, model_id: int) -> Receipt:
        """Close from the expiry height on (any time while uploading): unspent bounty and bond come back."""
        return self.client.submit(self.wallet, [MsgCloseModel(model_id=model_id)])


def _refuse_never_pay(chain_model, shards, metric: str, target_score: int) -> None:
    """The chain pays progress from version 0's score on the first round's shard toward the target: if that
    score already meets the target the model can never pay anything (docs/rounds.md "Closing a round").
    The first reveal uses shard 0 (reveal_due takes shards in order), so check it, with the chain's kernel."""
    from chain.registry.model import score_value
    from client.model import local_score_shard
    initial = score_value(metric, local_score_shard(chain_model, shards.shards[0]))
    met = initial >= target_score if metric == "accuracy" else initial <= target_score
    if met:
        raise ModelError(f"version 0 already scores {initial} on the first validation shard, at or beyond the "
                         f"target {target_score} ({metric}): the model could never pay any trainer. Raise the "
                         f"target or register a weaker starting model")


def _chunk_key(model_id: int, index: int) -> bytes:
    return b"reg/w/" + u64(model_id, 0, index)  # state layout: docs/registry.md


__all__ = ["Owner", "Registration", "LINEAR_CURVE", "coin", "model", "models", "versions", "weights", "spec",
           "shard", "registry_params", "round_end"]
