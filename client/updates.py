"""What a trainer submits and gets back, shared by client/trainer.py (open mode) and client/aggregate.py
(aggregate mode): the update's delta bytes and where a submission lives on chain."""
from __future__ import annotations

import time
from typing import NamedTuple

from chain.rounds.delta import make_delta as _delta_of_arrays
from chain.scoring.spec import LOSS_NAMES, ModelSpec
from chain.scoring.weights import load_weights
from chain.tx.errors import ChainError
from client.client import Receipt
from client.errors import GradchainError

FINAL_STATUSES = ("settled", "invalid", "void")   # a submission in one of these will not change again


class Submitted(NamedTuple):
    """Where a submitted update lives on chain: /rounds/submission model_id ‖ round ‖ seq; for an
    aggregate-mode model (`member`), seq is the join seq of the member record in /rounds/round."""
    model_id: int
    round: int
    seq: int
    parent: int
    receipt: Receipt
    member: bool = False


def submitted(receipt: Receipt) -> Submitted:
    """Read the submit_update event of a committed MsgSubmitUpdate tx."""
    for event in receipt.events:
        if event.get("type") == "submit_update":
            a = {x["key"]: x["value"] for x in event.get("attributes", [])}
            return Submitted(int(a["model_id"]), int(a["round"]), int(a["seq"]), int(a["parent"]), receipt)
    raise GradchainError(f"tx {receipt.tx_hash} submitted no update (no submit_update event)")


def make_delta(parent_weights: bytes, new_weights: bytes, spec: ModelSpec) -> bytes:
    """The canonical delta bytes (new - parent) between two chain-format weight encodings of `spec`."""
    try:
        parent, new = load_weights(parent_weights, spec), load_weights(new_weights, spec)
    except ChainError as e:
        raise GradchainError(f"weights do not fit the model's spec: {type(e).__name__}: {e}") from None
    return _delta_of_arrays(parent, new)


def delta_from_torch(parent, net, formats=None) -> bytes:
    """The delta taking `parent` (a client.model.ChainModel, e.g. the head version) to the torch net `net`
    after local training, quantized with the parent's fixed-point formats (client/model.py)."""
    from client.model import Formats, to_chain
    spec = parent.spec
    if formats is None:
        formats = Formats(input_frac=spec.input_format.frac_bits, input_bits=spec.input_format.bits,
                          weight_frac=spec.weight_format.frac_bits, weight_bits=spec.weight_format.bits,
                          act_frac=spec.activation_format.frac_bits, act_bits=spec.activation_format.bits,
                          bias_bits=spec.bias_bits, loss=LOSS_NAMES[spec.loss])
    trained = to_chain(net, spec.input_shape, formats)
    if trained.spec != spec:
        raise GradchainError("the trained network's spec differs from the parent's (layers or formats changed)")
    return _delta_of_arrays(parent.weights, trained.weights)


def compressed(parent, update: bytes, *, deflate: bool = True) -> bytes:
    """`update` (canonical delta bytes against `parent`, a client.model.ChainModel) in the compact format
    (chain.rounds.delta.compress_delta): int8 per value with a power-of-two scale per tensor, then deflated
    (zlib, lossless) when that is shorter. Lossy; if the rounding would push a value of parent + delta out
    of the spec's range (the chain would refuse it and the deposit be forfeited), the exact update is
    returned instead."""
    from chain.rounds.delta import apply_delta, compress_delta, decode_delta, deflate_delta
    from chain.rounds.errors import UpdateOutOfRange
    raw = compress_delta(decode_delta(update))
    if deflate and len(small := deflate_delta(raw)) < len(raw):
        raw = small
    try:
        apply_delta(parent.spec, parent.weights, raw)
    except UpdateOutOfRange:
        return update
    return raw


def follow(fetch, step_of, *, desc: str, what: str, timeout: float, poll: float, progress: bool,
           paid: bool) -> dict:
    """Poll `fetch()` (a submission or member record) until its status is final (and, with `paid`, its
    payout no longer pending), with a 3-step progress bar from `step_of(record)`. Raises GradchainError
    naming `what` after `timeout` seconds."""
    from tqdm import tqdm
    deadline = time.monotonic() + timeout
    with tqdm(total=3, desc=desc, disable=not progress, leave=False) as bar:
        while True:
            record = fetch()
            status = record["status"]
            bar.set_postfix_str(status)
            bar.update((3 if status in FINAL_STATUSES else step_of(record)) - bar.n)
            if status in FINAL_STATUSES and not (paid and record.get("payout_pending")):
                return record
            if time.monotonic() > deadline:
                raise GradchainError(f"{what} is still {status} after {timeout:.0f} s")
            time.sleep(poll)

