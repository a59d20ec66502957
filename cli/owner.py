"""A model owner's commands: the CLI counterpart of client.owner.Owner (register, fund, close).

    gradchain tx register MODEL.pt --data VAL.npz --shard-size 100 --bounty 1000000uusdc --bond 5000000ugrad \\
        --deposit 10000ugrad --target 0.95 --from alice [--privacy aggregate --cohort-size 3] [--shards-out F]
    gradchain tx fund MODEL AMOUNT --from KEY
    gradchain tx close MODEL --from KEY

`register` keeps the hidden validation shards in a private file (owner-only permissions): `gradchain tx
reveal` / `reveal-due` read it each round. Nothing but their Merkle root goes on chain.
"""
from __future__ import annotations

import os
from pathlib import Path

import click

from chain.tx.address import to_bech32
from cli.common import client_for, emit, fee_note, fee_paid, friendly, keyring, password, receipt_event, tx

ACCURACY_PPM = 1_000_000


def load_torch_model(path: str):
    """A torch.nn.Sequential saved with torch.save(net, path). torch.load unpickles: only load a file you
    made yourself (it can run code)."""
    import torch
    try:
        net = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # noqa: BLE001 - any unreadable file is one clear error
        raise click.ClickException(f"{path} is not a torch model saved with torch.save(net, path): {e}") from None
    if not isinstance(net, torch.nn.Sequential):
        raise click.ClickException(f"{path} holds a {type(net).__name__}; save the torch.nn.Sequential itself")
    return net


def _score_units(value: float, metric: str, what: str) -> int:
    """--target 0.95 (accuracy as a fraction) -> 950000 ppm; for loss, the value is already in score units."""
    if metric == "accuracy":
        if not 0 <= value <= 1:
            raise click.ClickException(f"{what} is an accuracy between 0 and 1 (e.g. 0.95), got {value}")
        return round(value * ACCURACY_PPM)
    return int(value)


@tx.command("register")
@click.argument("model_file", type=click.Path(dir_okay=False, exists=True))
@click.option("--data", "data_path", required=True, type=click.Path(exists=True),
              help="Validation data (.npz with X and y, a folder of X.npy/y.npy, or a CSV): it stays off chain.")
@click.option("--shard-size", type=click.IntRange(min=1), required=True, help="Samples per validation shard.")
@click.option("--bounty", required=True, help="Bounty, e.g. 1000000uusdc (any denom you hold).")
@click.option("--bond", required=True, help="Bond in the native denom, e.g. 5000000ugrad.")
@click.option("--deposit", required=True, help="Deposit per submitted update, native, e.g. 10000ugrad.")
@click.option("--target", type=float, required=True, help="Target: accuracy as a fraction (0.95), or a loss.")
@click.option("--metric", type=click.Choice(["accuracy", "loss"]), default="accuracy", show_default=True)
@click.option("--min-improvement", type=float, default=0.01, show_default=True,
              help="How much a new head must beat the head by (accuracy fraction: 0.01 = 1 pp).")
@click.option("--max-regression", type=float, default=0.1, show_default=True,
              help="How far below its parent an update may score before it forfeits its deposit.")
@click.option("--round-blocks", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--reveal-blocks", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--expiry-blocks", type=click.IntRange(min=1), default=10_000, show_default=True,
              help="The model can be closed (and closes itself) this many blocks from now.")
@click.option("--privacy", type=click.Choice(["open", "aggregate"]), default="open", show_default=True,
              help="aggregate: only cohort means are ever opened (docs/privacy.md).")
@click.option("--cohort-size", type=click.IntRange(min=0), default=0, help="Aggregate mode: k.")
@click.option("--aggregator", type=click.Choice(["fedavg", "median", "trimmed_mean"]), default="fedavg",
              show_default=True, help="A robust aggregate scored beside FedAvg (median or trimmed_mean).")
@click.option("--shards-out", type=click.Path(dir_okay=False), default=None,
              help="Where to keep the hidden shards (default: <home>/shards/model-ID.json, owner-only).")
@click.option("--from", "from_key", required=True, help="The owner's key: pays bounty, bond and fees.")
@click.pass_context
@friendly
def register(ctx, model_file, data_path, shard_size, bounty, bond, deposit, target, metric, min_improvement,
             max_regression, round_blocks, reveal_blocks, expiry_blocks, privacy, cohort_size, aggregator, shards_out,
             from_key):
    """Register MODEL_FILE (a saved torch.nn.Sequential) with hidden validation shards cut from --data, escrow
    the bounty and the bond, and upload the weights; the shards are saved privately for the reveals."""
    from client.data import load_data
    from client.owner import Owner
    from client.rounds import save_shards
    if privacy == "aggregate" and not cohort_size:
        raise click.ClickException("--privacy aggregate needs --cohort-size (k: cohorts of k..2k-1 trainers)")
    net = load_torch_model(model_file)
    X, y, _ = load_data(data_path)
    wallet = keyring(ctx).load(from_key, password(ctx))
    with client_for(ctx) as c:
        reg = Owner(c, wallet).register(
            net, X, y, shard_size, bounty, bond=bond, deposit=deposit, metric=metric,
            target_score=_score_units(target, metric, "--target"),
            min_improvement=_score_units(min_improvement, metric, "--min-improvement"),
            max_regression=_score_units(max_regression, metric, "--max-regression"),
            round_blocks=round_blocks, reveal_blocks=reveal_blocks, expiry_blocks=expiry_blocks,
            privacy=privacy, cohort_size=cohort_size, aggregator=aggregator, progress=ctx.obj["output"] == "text")
    path = Path(shards_out) if shards_out else Path(ctx.obj["home"]) / "shards" / f"model-{reg.model_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)   # owner-only: the hidden validation set
    os.close(fd)
    save_shards(reg.shards, path)
    data = {"model_id": reg.model_id, "owner": to_bech32(wallet.address_bytes), "shards_file": str(path),
            "shards": len(reg.shards.shards), "shard_root": reg.shards.root.hex(), "privacy": privacy}
    emit(ctx, data, f"model {reg.model_id} registered and active: {len(reg.shards.shards)} hidden shards kept in "
                    f"{path} (keep it private; reveal with `gradchain tx reveal-due {reg.model_id} --shards {path} "
                    f"--from {from_key} --watch`)")


@tx.command("fund")
@click.argument("model_id", type=click.IntRange(min=1))
@click.argument("amount")
@click.option("--from", "from_key", required=True, help="Any key holding the bounty's denom.")
@click.pass_context
@friendly
def fund(ctx, model_id, amount, from_key):
    """Add AMOUNT (in the bounty's denom, e.g. 500000uusdc) to MODEL's bounty."""
    from client.owner import Owner
    wallet = keyring(ctx).load(from_key, password(ctx))
    with client_for(ctx) as c:
        receipt = Owner(c, wallet).fund(model_id, amount)
    emit(ctx, {"tx_hash": receipt.tx_hash, "height": receipt.height, "model_id": model_id, "amount": amount,
               "event": receipt_event(receipt, "fund_bounty"), "fee": fee_paid(receipt)},
         f"model {model_id}'s bounty funded with {amount} in block {receipt.height} (tx {receipt.tx_hash})"
         f"{fee_note(receipt)}")


@tx.command("close")
@click.argument("model_id", type=click.IntRange(min=1))
@click.option("--from", "from_key", required=True, help="The model owner's key.")
@click.pass_context
@friendly
def close(ctx, model_id, from_key):
    """Close MODEL (its owner, from its expiry height on, or any time while uploading): the unspent bounty and
    the bond come back; trainers' held deposits are refunded."""
    from client.owner import Owner
    wallet = keyring(ctx).load(from_key, password(ctx))
    with client_for(ctx) as c:
        receipt = Owner(c, wallet).close(model_id)
    emit(ctx, {"tx_hash": receipt.tx_hash, "height": receipt.height, "model_id": model_id,
               "event": receipt_event(receipt, "close_model"), "fee": fee_paid(receipt)},
         f"model {model_id} closed in block {receipt.height} (tx {receipt.tx_hash}){fee_note(receipt)}")
