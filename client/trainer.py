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

from chain.errors import ChainError
from chain.rounds.update import make_delta as _delta_of_arrays
from chain.scoring.spec import LOSS_NAMES, ModelSpec
from chain.scoring.weights import load_weights
from chain.tx.messages import MsgSubmitUpdate
from client.client import Client, Receipt
from client.errors import GradchainError
from client.seal import seal, seal_context
from client.wallet import Wallet


def _u64(*values: int) -> bytes:
    return b"".join(int(v).to_bytes(8, "big") for v in values)


def round_info(client: Client, model_id: int, round_: int) -> dict:
    """/rounds/round: the window, the sealing set (the round's snapshot, or the set its first submission
    would snapshot), the share plan and the submissions."""
    return client.query_json("/rounds/round", _u64(model_id, round_))


def submission(client: Client, model_id: int, round_: int, seq: int) -> dict:
    return client.query_json("/rounds/submission", _u64(model_id, round_, seq))


def sealing_set(info: dict) -> list[tuple[int, bytes, int]]:
    return [(m["index"], bytes.fromhex(m["encryption_pubkey"]), m["power"]) for m in info["sealing_set"]]


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


class Trainer:
    def __init__(self, client: Client, wallet: Wallet):
        self.client, self.wallet = client, wallet

    def round(self, model_id: int, round_: int) -> dict:
        return round_info(self.client, model_id, round_)

    def seal(self, model_id: int, round_: int, update: bytes):
        """The envelope for `update`, sealed to round `round_`'s set for this trainer's address."""
        info = self.round(model_id, round_)
        if info.get("valset_hash") is None:
            raise GradchainError(f"round {round_} of model {model_id} has no usable sealing set: "
                                 f"{info.get('plan_error', 'no validators')}")
        context = seal_context(self.client.chain_id, model_id, round_, self.wallet.address_bytes)
        return seal(update, sealing_set(info), context, max_total_shares=info["max_total_shares"])

    def submit(self, model_id: int, update: bytes, *, round_: int | None = None, parent_version: int | None = None,
               wait: bool = True) -> Receipt:
        """Seal and submit `update` (bytes) to `round_` (default: the round open for the next block), trained
        from `parent_version` (default: the head version). Raises TxFailed with the chain's code."""
        if not isinstance(update, (bytes, bytearray)) or not update:
            raise GradchainError("the update must be non-empty bytes")
        model = self.client.query_json("/registry/model", _u64(model_id))
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


__all__ = ["Trainer", "delta_from_torch", "make_delta", "round_info", "submission", "sealing_set"]
