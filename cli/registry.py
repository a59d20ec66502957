"""`gradchain query models | model ID | versions ID | weights ID --out FILE`: read the model registry."""
from __future__ import annotations

import hashlib
from pathlib import Path

import click

from cli.common import client_for, emit, friendly, query


@query.command("models")
@click.pass_context
@friendly
def query_models(ctx):
    """Every registered model: id, status, metric, unspent bounty, head version, owner."""
    from client.owner import models
    with client_for(ctx) as c:
        rows = models(c)
    emit(ctx, rows, "\n".join(f"{m['id']}\t{m['status']}\t{m['metric']}\t{m['bounty']}\thead v{m['head_version']}"
                              f"\texpires {m['expiry_height']}\t{m['owner']}" for m in rows) or "no models")


@query.command("model")
@click.argument("model_id", type=click.IntRange(min=1))
@click.pass_context
@friendly
def query_model(ctx, model_id):
    """One model: owner, status, escrow and bond, round terms, head version, revealed rounds."""
    from client.owner import model
    with client_for(ctx) as c:
        record = model(c, model_id)
    lines = [f"model {record['id']} ({record['status']}) owned by {record['owner']}",
             f"bounty escrow {record['escrow']}{record['bounty_denom']}, bond {record['bond']}{record['bond_denom']}, "
             f"deposit {record['deposit']}{record['deposit_denom']} per update",
             f"metric {record['metric']}, target {record['target_score']}, min improvement {record['min_improvement']}",
             f"rounds of {record['round_blocks']} blocks, reveal within {record['reveal_blocks']}; "
             f"current round {record['current_round']}; expires at {record['expiry_height']}",
             f"head version {record['head_version']} of {record['version_count']}; "
             f"weights {record['chunks_received']}/{record['chunk_count']} chunks",
             f"shards revealed {record['revealed_count']}/{record['shard_count']}: " +
             (", ".join(f"round {r['round']} -> shard {r['shard_index']}{'' if r['scored'] else ' (scoring)'}"
                        for r in record["rounds"]) or "none")]
    emit(ctx, record, "\n".join(lines))


@query.command("versions")
@click.argument("model_id", type=click.IntRange(min=1))
@click.pass_context
@friendly
def query_versions(ctx, model_id):
    """A model's versions (parent, weights hash) and their scores per round."""
    from client.owner import versions
    with client_for(ctx) as c:
        reply = versions(c, model_id)
    lines = []
    for v in reply["versions"]:
        head = " (head)" if v["version"] == reply["head_version"] else ""
        lines.append(f"v{v['version']}{head} parent {v['parent']} weights {v['weights_hash'][:16]}...")
        lines += [f"  round {s['round']}: {s['correct']}/{s['total']} correct, loss {s['loss']} (shard {s['shard_index']})"
                  for s in v["scores"]]
    emit(ctx, reply, "\n".join(lines) or "no versions yet (weights still uploading)")


@query.command("weights")
@click.argument("model_id", type=click.IntRange(min=1))
@click.option("--version", type=click.IntRange(min=0), default=None, help="Default: the head version.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, writable=True),
              help="File to write the canonical weight bytes to (client.model / chain.scoring.load_weights read them).")
@click.pass_context
@friendly
def query_weights(ctx, model_id, version, out):
    """Download a version's canonical weight bytes, checked against their recorded hash."""
    from client.owner import model, weights
    with client_for(ctx) as c:
        if version is None:
            version = model(c, model_id)["head_version"]
        raw = weights(c, model_id, version)
    Path(out).write_bytes(raw)
    digest = hashlib.sha256(raw).hexdigest()
    emit(ctx, {"model_id": model_id, "version": version, "bytes": len(raw), "sha256": digest, "out": str(out)},
         f"wrote {len(raw)} bytes of model {model_id} version {version} to {out} (sha256 {digest})")
