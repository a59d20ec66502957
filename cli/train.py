"""`gradchain train`: the trainer's whole round from the command line (docs/rounds.md, "CLI"), the
counterpart of Trainer.train_and_submit + wait_for_result for people who do not write Python:

    gradchain train MODEL --data PATH --from KEY [--epochs N] [--lr X] [--optimizer sgd|adam]
                    [--batch-size B] [--seed S] [--dp-clip C --dp-noise Z [--dp-delta D]] [--round R]
                    [--wait/--no-wait] [--timeout SECONDS] [--quiet]

The data (client/data.py layouts) is read and trained on in this process; only the sealed weight update
(and the signed tx carrying it) goes to the node.
"""
from __future__ import annotations

import math

import click

from cli.common import client_for, emit, fee_note, fee_paid, friendly, keyring, password, privacy_ledger, receipt_event

# client.training's OPTIMIZERS and DEFAULT_LR, spelled out so that `gradchain --help` imports no numpy/torch
OPTIMIZERS = ("sgd", "adam")
DEFAULT_LR = {"sgd": 0.05, "adam": 1e-3}
_DATA_HELP = ("Your private training data: a .npz with arrays X and y; a folder with X.npy and y.npy; or a .csv "
              "(or a folder with one) whose last column is the integer label and the others the features, "
              "header row optional. Read only by this process: it is never sent anywhere.")


def _need_training_extra(dp: bool) -> None:
    """torch (and dp-accounting for DP) come with the `train` extra: say so instead of a traceback."""
    import importlib.util
    missing = [name for name, needed in (("torch", True), ("dp_accounting", dp))
               if needed and importlib.util.find_spec(name) is None]
    if missing:
        raise click.ClickException(f"gradchain train needs {' and '.join(missing)}: install the training extra, "
                                   "pip install 'gradchain[train]'")


def _dp_config(clip, noise, delta):
    if clip is None and noise is None:
        if delta is not None:
            raise click.UsageError("--dp-delta needs --dp-clip and --dp-noise")
        return None
    if clip is None or noise is None:
        raise click.UsageError("differential privacy needs both --dp-clip and --dp-noise")
    from client.dp import DPConfig
    return DPConfig(clip_norm=clip, noise_multiplier=noise, target_delta=1e-5 if delta is None else delta)


def _epsilon(value: float) -> float | None:
    return None if math.isinf(value) else value


def _score_text(score: dict | None) -> str:
    if not score:
        return "not scored"
    total = int(score["total"])
    pct = 100.0 * int(score["correct"]) / total if total else 0.0
    return f"{score['correct']}/{total} correct ({pct:.2f}%), loss {score['loss']}"


def _deposit_fate(record: dict) -> str | None:
    """'returned', 'forfeited', or None while the deposit is still held."""
    status = record.get("status")
    if status == "settled":
        return "returned" if record.get("deposit_returned", True) else "forfeited"
    if status == "invalid":
        return "forfeited"
    if status == "void":
        return "returned"
    return None


def _result_text(record: dict) -> str:
    status = record["status"]
    head = f"result: {status}"
    if record.get("outcome"):
        head += f", outcome {record['outcome']}"
    if record.get("reason"):
        head += f" ({record['reason']}"
        if record.get("copy_of"):   # rounds/10: name what it copied
            head += f": the same bytes as update {record['copy_of'][1]} of round {record['copy_of'][0]}, opened first"
        head += ")"
    parts = [head]
    if record.get("score"):
        parts.append(f"score {_score_text(record['score'])}")
    if "gain" in record:
        parts.append(f"gain over the head {record['gain']}")
    parts.append("payout pending until a later round confirms the gain" if record.get("payout_pending")
                 else f"payout {record.get('payout', '0')}{record.get('payout_denom') or ''}")
    deposit = f"deposit {record['deposit']}{record['deposit_denom']} {_deposit_fate(record) or 'held'}"
    if record.get("compensation"):
        deposit += f", plus {record['compensation']} compensation from the owner's bond"
    parts.append(deposit)
    return "; ".join(parts)


@click.command("train")
@click.argument("model_id", type=click.IntRange(min=1))
@click.option("--data", "data_path", required=True, type=click.Path(exists=True), help=_DATA_HELP)
@click.option("--from", "from_key", required=True, help="Key (in the keyring) that signs and pays the deposit.")
@click.option("--epochs", type=click.IntRange(min=1), default=5, show_default=True, help="Passes over the data.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None,
              help=f"Learning rate (default: {DEFAULT_LR['sgd']} for sgd, {DEFAULT_LR['adam']} for adam).")
@click.option("--optimizer", type=click.Choice(OPTIMIZERS), default="sgd", show_default=True,
              help="sgd (momentum 0.9) or adam.")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--seed", type=int, default=None, help="Shuffle the batches reproducibly.")
@click.option("--dp-clip", type=float, default=None,
              help="Differential privacy: clip the update's L2 norm (real units) to this.")
@click.option("--dp-noise", type=float, default=None,
              help="Differential privacy: noise multiplier (noise std = multiplier x clip), with --dp-clip.")
@click.option("--dp-delta", type=float, default=None, help="The delta of the reported (epsilon, delta) [1e-5].")
@click.option("--round", "round_", type=click.IntRange(min=0), default=None,
              help="Default: the open round, or the next one if it closes within 2 blocks.")
@click.option("--wait/--no-wait", default=True, show_default=True,
              help="Wait until the round closes and print the outcome, score, payout and deposit.")
@click.option("--timeout", type=click.FloatRange(min=0), default=3600.0, show_default=True,
              help="With --wait: give up waiting after this many seconds (the update stays submitted).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars (also off with --output json).")
@click.option("--compress", is_flag=True,
              help="Send the delta as int8 with a power-of-two scale per tensor: ~4x fewer bytes, lossy.")
@click.pass_context
@friendly
def train_cmd(ctx, model_id, data_path, from_key, epochs, lr, optimizer, batch_size, seed, dp_clip, dp_noise,
              dp_delta, round_, wait, timeout, quiet, compress):
    """Train MODEL's current head on your data in --data and submit the sealed update, paying the deposit.

    The data is read and trained on in this process and never leaves it: only the sealed weight update
    (encrypted to the round's validators, opened after the round's window) is broadcast. With --wait
    (default) it then waits for the round to close (the owner reveals a shard, validators score) and prints
    the outcome, score (accuracy), payout and whether the deposit came back; Ctrl-C stops waiting, not the
    submission (`gradchain query submission MODEL ROUND SEQ` later).

    With --dp-clip and --dp-noise the update is clipped and noised (client/dp.py). Every committed DP
    update is recorded in the privacy ledger <home>/privacy_ledger.json (client/privacy_ledger.py), so the
    epsilon printed is your total for this model across every run; `gradchain privacy budget` sets a
    budget this command then refuses to pass (before training), `gradchain privacy show` lists it.
    """
    from chain.scoring.errors import SpecDecodeError
    from chain.tx.errors import ChainError
    from chain.scoring.spec import LOSS_NAMES, ModelSpec
    from chain.scoring.tensor import decode_message
    from client.data import fit_to_spec, input_size, load_data
    from client.errors import GradchainError
    from client.owner import model, spec
    from client.trainer import Trainer
    from client.training import train

    _need_training_extra(dp_clip is not None or dp_noise is not None)
    text = ctx.obj["output"] != "json"
    progress = text and not quiet
    say = click.echo if text else (lambda *_a, **_k: None)
    dp = _dp_config(dp_clip, dp_noise, dp_delta)
    X, y, source = load_data(data_path)                  # local; fails before anything else
    wallet = keyring(ctx).load(from_key, password(ctx))
    with client_for(ctx) as c:
        record = model(c, model_id)                       # an unknown model fails here with registry/1
        if record["status"] != "active" or record.get("current_round") is None:
            raise click.ClickException(f"model {model_id} is not taking submissions (status {record['status']})")
        try:
            model_spec = decode_message(ModelSpec, spec(c, model_id), SpecDecodeError)
        except ChainError as e:
            raise click.ClickException(f"cannot read model {model_id}'s spec: {type(e).__name__}: {e}") from None
        X, y = fit_to_spec(X, y, model_spec, source)
        say(f"data: {len(X)} samples x {input_size(model_spec)} features from {source.path} ({source.layout}"
            f"{', header row skipped' if source.header else ''}); trained here, never sent")
        rate = DEFAULT_LR[optimizer] if lr is None else lr
        say(f"training head v{record['head_version']} of model {model_id}: {epochs} epochs, {optimizer} lr {rate:g}, "
            f"batch {batch_size}")
        losses: list[float] = []

        def loop(net, X_, y_):
            net = train(net, (X_, y_), epochs=epochs, optimizer=optimizer, lr=lr, batch_size=batch_size,
                        loss=LOSS_NAMES[model_spec.loss], seed=seed, progress=progress,
                        on_epoch=lambda _epoch, loss: losses.append(loss))
            say(f"trained: mean loss {losses[0]:.4f} in the first epoch, {losses[-1]:.4f} in the last")
            return net

        trainer = Trainer(c, wallet)
        sub = trainer.train_and_submit(model_id, X, y, train=loop, dp=dp, ledger=privacy_ledger(ctx),
                                       round_=round_, progress=progress, compress=compress)
        event = receipt_event(sub.receipt, "join_round" if sub.member else "submit_update")
        data = {"model_id": model_id, "round": sub.round, "seq": sub.seq, "parent": sub.parent,
                "tx_hash": sub.receipt.tx_hash, "height": sub.receipt.height, "fee": fee_paid(sub.receipt),
                "deposit": event.get("deposit"),
                "envelope_hash": event.get("envelope_hash"), "submitter": wallet.address,
                "data": {"path": source.path, "layout": source.layout, "samples": len(X),
                         "features": input_size(model_spec)},
                "training": {"epochs": epochs, "optimizer": optimizer, "lr": rate, "batch_size": batch_size,
                             "seed": seed, "losses": losses},
                "dp": None, "result": None, "accuracy": None, "deposit_outcome": None}
        if dp is not None:
            report = trainer.last_dp_report
            data["dp"] = {"clip_norm": dp.clip_norm, "noise_multiplier": dp.noise_multiplier,
                          "target_delta": dp.target_delta, "sigma": report.sigma, "norm_before": report.norm_before,
                          "norm_clipped": report.norm_clipped, "clipped": report.clipped,
                          "clamped_values": report.clamped_values, "rounds": report.rounds,
                          "epsilon": _epsilon(report.epsilon)}
            eps = "infinite (no noise: clipping alone protects nothing)" if math.isinf(report.epsilon) \
                else f"{report.epsilon:.4g}"
            say(f"differential privacy: update norm {report.norm_before:.4g}"
                + (f" clipped to {report.norm_clipped:.4g}" if report.clipped else " (within the clip)")
                + f", noise std {report.sigma:.4g}; epsilon {eps} at delta {dp.target_delta:g} over your "
                  f"{report.rounds} DP update(s) to this model (privacy ledger)")
        if sub.member:   # aggregate mode: the chain never sees the update alone, only its cohort's mean
            data["member"] = True
            say(f"joined round {sub.round} of model {model_id} as member {sub.seq} (parent v{sub.parent}) in block "
                f"{sub.receipt.height}, then submitted the masked update; deposit {data['deposit']} held "
                f"(tx {sub.receipt.tx_hash}){fee_note(sub.receipt)}")
        else:
            say(f"submitted: update {sub.seq} of round {sub.round} of model {model_id} (parent v{sub.parent}), "
                f"sealed, in block {sub.receipt.height}; deposit {data['deposit']} held (tx {sub.receipt.tx_hash})"
                f"{fee_note(sub.receipt)}")
        later = (f"gradchain query round {model_id} {sub.round}" if sub.member
                 else f"gradchain query submission {model_id} {sub.round} {sub.seq}")
        if not wait:
            emit(ctx, data, f"check the result later: {later}")
            return
        say("waiting for the round to close and the update to be scored (Ctrl-C stops waiting; the update "
            "stays submitted)...")
        try:
            result = trainer.wait_for_result(sub, timeout=timeout, progress=progress)
        except KeyboardInterrupt:
            emit(ctx, data, f"stopped waiting; the update stays submitted: {later}")
            ctx.exit(130)
        except GradchainError as e:
            if not text:
                emit(ctx, data)
            raise click.ClickException(f"{e}; the update stays submitted: {later}") from None
    data["result"] = result
    data["accuracy"] = (int(result["score"]["correct"]) / int(result["score"]["total"])
                        if result.get("score") and int(result["score"]["total"]) else None)
    data["deposit_outcome"] = _deposit_fate(result)
    emit(ctx, data, _result_text(result))


__all__ = ["train_cmd"]
