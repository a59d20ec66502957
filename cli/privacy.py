"""`gradchain privacy show` and `gradchain privacy budget`: the trainer's privacy ledger
(<home>/privacy_ledger.json, client/privacy_ledger.py), which `gradchain train` fills and enforces."""
from __future__ import annotations

import math

import click

from cli.common import client_for, emit, friendly, privacy_ledger, resolve_address
from chain.tx.address import to_bech32


@click.group()
def privacy():
    """Differential-privacy spending per (chain, key, model), across every `gradchain train` run."""


def _chain_id(ctx, chain_id):
    if chain_id:
        return chain_id
    with client_for(ctx) as c:
        return c.chain_id


@privacy.command("show")
@click.option("--from", "from_key", default=None, help="Only this key (name or address).")
@click.option("--model", "model_id", type=int, default=None, help="Only this model.")
@click.pass_context
@friendly
def show(ctx, from_key, model_id):
    """Each ledger entry: DP updates recorded, epsilon spent at the budget's delta (1e-5 without one), budget."""
    ledger = privacy_ledger(ctx)
    address = to_bech32(resolve_address(ctx, from_key)) if from_key else None
    rows = []
    for key, entry in sorted(ledger.entries().items()):
        chain, who, model = key.rsplit("/", 2)
        if (address and who != address) or (model_id is not None and int(model) != model_id):
            continue
        budget = entry["budget"]
        delta = budget["delta"] if budget else 1e-5
        eps = ledger.accountant_of(entry).epsilon(delta)
        rows.append({"chain_id": chain, "address": who, "model_id": int(model), "updates": len(entry["rounds"]),
                     "epsilon": None if math.isinf(eps) else eps, "delta": delta, "budget": budget})
    lines = [f"{r['chain_id']}  {r['address']}  model {r['model_id']}: {r['updates']} DP update(s), epsilon "
             + ("infinite" if r["epsilon"] is None else f"{r['epsilon']:.4g}") + f" at delta {r['delta']:g}"
             + (f"; budget {r['budget']['epsilon']:g}" if r["budget"] else "; no budget") for r in rows]
    emit(ctx, rows, "\n".join(lines) or f"no DP updates recorded in {ledger.path}")


@privacy.command("budget")
@click.argument("model_id", type=int)
@click.argument("epsilon", type=float)
@click.option("--from", "from_key", required=True, help="The trainer key (name or address).")
@click.option("--delta", type=float, default=1e-5, show_default=True)
@click.option("--chain-id", default=None, help="Defaults to the --node's chain.")
@click.pass_context
@friendly
def budget(ctx, model_id, epsilon, from_key, delta, chain_id):
    """Refuse any `gradchain train --dp-...` for MODEL_ID that would take this key's epsilon past EPSILON."""
    ledger = privacy_ledger(ctx)
    address = to_bech32(resolve_address(ctx, from_key))
    chain = _chain_id(ctx, chain_id)
    ledger.set_budget(chain, address, model_id, epsilon, delta)
    spent = ledger.epsilon(chain, address, model_id)
    emit(ctx, {"chain_id": chain, "address": address, "model_id": model_id, "budget": epsilon, "delta": delta,
               "spent": None if math.isinf(spent) else spent},
         f"budget for model {model_id}: epsilon {epsilon:g} at delta {delta:g} ({spent:.4g} spent so far)")
