"""Local training for trainers: a default loop, and training from the chain's current head.

    head = head_model(client, model_id)                 # the head version as a ChainModel, hash-checked
    net = train_from_head(head, (X_train, y_train), epochs=10, optimizer="adam", lr=1e-3)
    update = delta_from_torch(head, net)                 # client.trainer: the delta the chain scores
    Trainer(client, wallet).submit(model_id, update)

Why from the head: the chain scores parent + delta, and the parent defaults to the head version. Starting
from anything else (the owner's initial weights, last round's local net) makes a delta that undoes the
rounds in between. `from_chain` rebuilds the head exactly (float64, every weight representable), so a
delta of an untrained net is exactly zero.

`train` is deliberately plain (one optimizer, a loss, epochs, a progress bar); bring your own loop for
anything else: the chain only sees the resulting weights. Torch is imported here only (client/ only).
"""
from __future__ import annotations

import hashlib
from typing import Callable

from chain.tx.errors import ChainError
from chain.scoring.spec import LOSS_NAMES, load_spec
from chain.scoring.weights import load_weights
from client.errors import GradchainError
from client.model import ChainModel, from_chain

OPTIMIZERS = ("sgd", "adam")
DEFAULT_LR = {"sgd": 0.05, "adam": 1e-3}


def train(net, data, *, epochs: int = 5, optimizer: str | Callable = "sgd", lr: float | None = None,
          momentum: float = 0.9, weight_decay: float = 0.0, batch_size: int = 64,
          loss: str | Callable = "cross_entropy", seed: int | None = None, progress: bool = True,
          on_epoch: Callable[[int, float], None] | None = None):
    """Train the classifier `net` (a torch.nn.Module, in place) and return it.

    data: a torch DataLoader yielding (inputs, labels), or an (X, y) pair of arrays/tensors (batched and
    shuffled here with `batch_size`, reproducibly with `seed`). optimizer: "sgd" (with `momentum`) or
    "adam", or a callable params -> torch.optim.Optimizer. loss: "cross_entropy" (labels are class indices)
    or "mse" (logits against one-hot labels, as the chain's MSE scores them), or a callable
    (logits, labels) -> loss. progress: a tqdm bar over the batches. on_epoch(epoch, mean_loss) after each."""
    import torch
    from tqdm import tqdm

    params = list(net.parameters())
    if not params:
        raise GradchainError("the network has no parameters to train")
    dtype = params[0].dtype
    loader = _loader(data, batch_size, seed, dtype)
    opt = _optimizer(optimizer, params, lr, momentum, weight_decay)
    loss_fn = _loss(loss)
    if epochs < 1:
        raise GradchainError(f"epochs must be >= 1, got {epochs}")
    net.train()
    try:
        total = epochs * len(loader)
    except TypeError:          # an iterable DataLoader has no length
        total = None
    with tqdm(total=total, desc="training", unit="batch", disable=not progress) as bar:
        for epoch in range(epochs):
            running, batches = 0.0, 0
            for inputs, labels in loader:
                inputs = inputs.to(dtype)
                opt.zero_grad()
                value = loss_fn(net(inputs), labels)
                value.backward()
                opt.step()
                running, batches = running + float(value.detach()), batches + 1
                bar.update(1)
                bar.set_postfix(epoch=epoch + 1, loss=f"{running / batches:.4f}")
            if batches == 0:
                raise GradchainError("the training data is empty")
            if on_epoch is not None:
                on_epoch(epoch, running / batches)
    net.eval()
    return net


def train_from_head(head: ChainModel, data, **options):
    """A torch.nn.Sequential rebuilt from `head` (client.model.from_chain, float64), trained on `data` with
    `train` (same options; the loss defaults to the model's own, cross-entropy or MSE). Feed the result to
    client.trainer.delta_from_torch(head, net)."""
    net = from_chain(head)
    options.setdefault("loss", LOSS_NAMES[head.spec.loss])
    return train(net, data, **options)


def head_model(client, model_id: int, version: int | None = None) -> ChainModel:
    """The model's spec and the weights of `version` (default: the head) from the chain, as a ChainModel.
    The weights are checked against their recorded hash and the spec against the model's spec hash."""
    from client.owner import model as model_record
    from client.owner import registry_params, spec, weights
    record = model_record(client, model_id)
    raw_spec = spec(client, model_id)
    if "spec_hash" in record and hashlib.sha256(raw_spec).hexdigest() != record["spec_hash"]:
        raise GradchainError(f"node answered a spec for model {model_id} that does not match its hash: do not use it")
    raw_weights = weights(client, model_id, record["head_version"] if version is None else version)
    try:
        model_spec = load_spec(raw_spec, registry_params(client)["max_params"])
        return ChainModel(model_spec, load_weights(raw_weights, model_spec))
    except ChainError as e:
        raise GradchainError(f"model {model_id}'s spec or weights do not decode: {type(e).__name__}: {e}") from None


def _loader(data, batch_size: int, seed: int | None, dtype):
    import torch
    from torch.utils.data import DataLoader, TensorDataset
    if isinstance(data, DataLoader):
        return data
    try:
        X, y = data
    except (TypeError, ValueError):
        raise GradchainError("data must be a torch DataLoader or an (X, y) pair") from None
    X = torch.as_tensor(X).to(dtype)
    y = torch.as_tensor(y)
    if len(X) != len(y) or len(X) == 0:
        raise GradchainError(f"need as many labels as samples, and at least one: got {len(X)} and {len(y)}")
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    return DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=True, generator=generator)


def _optimizer(optimizer, params, lr, momentum, weight_decay):
    import torch
    if callable(optimizer):
        return optimizer(params)
    if optimizer not in OPTIMIZERS:
        raise GradchainError(f"optimizer must be one of {OPTIMIZERS} or a callable params -> Optimizer")
    lr = DEFAULT_LR[optimizer] if lr is None else lr
    if optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)


def _loss(loss):
    import torch.nn.functional as F
    if callable(loss):
        return loss
    if loss == "cross_entropy":
        return lambda logits, labels: F.cross_entropy(logits, labels.long())
    if loss == "mse":
        return lambda logits, labels: F.mse_loss(
            logits, F.one_hot(labels.long(), logits.shape[-1]).to(logits.dtype), reduction="sum") / len(labels)
    raise GradchainError(f"loss must be 'cross_entropy', 'mse' or a callable, got {loss!r}")


__all__ = ["train", "train_from_head", "head_model"]
