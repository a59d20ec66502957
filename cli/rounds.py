"""Rounds on the command line (docs/rounds.md, "CLI"):

    gradchain query round MODEL ROUND | submission MODEL ROUND SEQ | leaderboard MODEL
    gradchain query earnings ADDRESS | --key NAME
    gradchain query open-models
    gradchain tx submit-update MODEL --update FILE [--round N] [--parent V] --from KEY
    gradchain tx reveal MODEL ROUND --shards FILE --index I --from KEY
    gradchain tx reveal-due MODEL --shards FILE --from KEY [--watch [--poll SECONDS]]
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import click

from chain.tx.address import to_bech32
from cli.common import (client_for, emit, fee_note, fee_paid, friendly, keyring, password, query, receipt_event,
                        resolve_address, tx)


# --- text formatting -------------------------------------------------------------------------------------
def _score(score: dict | None) -> str:
    if not score:
        return "-"
    return f"{score['correct']}/{score['total']} correct, loss {score['loss']}"


def _table(header: list[str], rows: list[list]) -> str:
    cells = [header] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells)


def _round_state(info: dict) -> str:
    if info.get("void"):
        return f"void at height {info['closed_height']} (shard never revealed, or the model closed)"
    if info.get("closed_height") is not None:
        head = f"new head v{info['new_version']}" if info.get("new_version") is not None else "head unchanged"
        winners = f" from update(s) {', '.join(map(str, info['winners']))}" if info.get("winners") else ""
        denom = next((s["payout_denom"] for s in info["submission_list"] if s.get("payout_denom")), "")
        paid = ("payout pending: paid when a later round's fresh shard confirms the gain"
                if info.get("payout_pending") else f"paid {info.get('paid', '0')}{denom}")
        return f"closed at height {info['closed_height']}: {head}{winners}, {paid}"
    if info.get("settled_height") is not None:
        return f"release settled at height {info['settled_height']}; waiting for the shard reveal and scoring"
    return "not closed yet"


def _verdict(s: dict) -> str:
    if s.get("copy_of"):    # rounds/10 names what it copied
        return f"{s['reason']} copy of {s['copy_of'][0]}/{s['copy_of'][1]}"
    return s.get("outcome") or s.get("reason") or "-"


def _submission_rows(subs: list[dict]) -> list[list]:
    return [[s["seq"], s["submitter"], s["status"], _verdict(s),
             _score(s.get("score")), _payout(s), f"{s['deposit']}{s['deposit_denom']}"] for s in subs]


def _payout(record: dict) -> str:
    """A submission's payout; an accepted update's is pending until a later round confirms its gain."""
    if record.get("payout_pending"):
        return "pending"
    return f"{record.get('payout', '0')}{record.get('payout_denom') or ''}"


SUBMISSION_HEADER = ["seq", "trainer", "status", "outcome", "score", "payout", "deposit"]


# --- queries ---------------------------------------------------------------------------------------------
@query.command("round")
@click.argument("model_id", type=click.IntRange(min=1))
@click.argument("round_", metavar="ROUND", type=click.IntRange(min=0))
@click.pass_context
@friendly
def query_round(ctx, model_id, round_):
    """Round ROUND of MODEL: window, sealing set, submissions, and how it closed."""
    from client.rounds import round_info
    with client_for(ctx) as c:
        info = round_info(c, model_id, round_)
    lines = [f"round {round_} of model {model_id}: submissions at heights {info['window_start']}.."
             f"{info['window_end'] - 1}, reveal by {info['reveal_deadline'] - 1}; head v{info['head_version']}, "
             f"deposit {info['deposit']}{info['deposit_denom']}",
             f"sealing set: {len(info['sealing_set'])} validators, threshold {info.get('threshold')} of "
             f"{info.get('total_shares')} shares" + ("" if info["snapshotted"] else " (not snapshotted yet)"),
             _round_state(info)]
    if info.get("aggregate"):
        agg = info["aggregate"]
        lines.append(f"aggregate of updates {', '.join(map(str, agg['of']))}: {_score(agg.get('score'))}")
    if info.get("privacy") == "aggregate":
        lines += _aggregate_lines(info)
    elif info["submission_list"]:
        lines += ["", _table(SUBMISSION_HEADER, _submission_rows(info["submission_list"]))]
    else:
        lines.append("no submissions")
    emit(ctx, info, "\n".join(lines))


def _aggregate_lines(info: dict) -> list[str]:
    """Aggregate mode: the joins, the cohorts and their means' outcomes; never a member's update (the chain
    holds none)."""
    lines = [f"aggregate mode, cohorts of {info['cohort_size']}..{2 * info['cohort_size'] - 1}: joins at heights "
             f"{info['window_start']}..{info['join_end'] - 1}, masked updates at {info['join_end']}.."
             f"{info['window_end'] - 1}"]
    means = {s["seq"]: s for s in info["submission_list"]}
    for c in info["cohort_list"]:
        mean = means.get(c.get("submission"))
        how = (f"mean = update {mean['seq']}: {mean.get('outcome') or mean['status']}, {_score(mean.get('score'))}"
               if mean else c.get("reason") or "-")
        lines.append(f"cohort {c['cohort']}: members {', '.join(map(str, c['members']))}; submitted "
                     f"{len(c.get('submitted', []))}; {c['status']}; {how}")
    if info["member_list"]:
        rows = [[m["seq"], m["member"], m.get("cohort", "-"), m["status"], m.get("outcome") or m.get("reason") or "-",
                 _payout(m), f"{m['deposit']}{m['deposit_denom']}" + ("" if m.get("deposit_returned", True)
                                                                      else " (forfeited)")]
                for m in info["member_list"]]
        lines += ["", _table(["join", "trainer", "cohort", "status", "outcome", "payout", "deposit"], rows)]
    else:
        lines.append("no joins")
    return lines


@query.command("submission")
@click.argument("model_id", type=click.IntRange(min=1))
@click.argument("round_", metavar="ROUND", type=click.IntRange(min=0))
@click.argument("seq", type=click.IntRange(min=0))
@click.pass_context
@friendly
def query_submission(ctx, model_id, round_, seq):
    """Submission SEQ of round ROUND of MODEL: status, score, outcome, payout, deposit."""
    from client.rounds import submission
    with client_for(ctx) as c:
        record = submission(c, model_id, round_, seq)
    lines = [f"submission {seq} of round {round_} of model {model_id} by {record['submitter']}, "
             f"parent v{record['parent']}, at height {record['height']}",
             f"status {record['status']}" + (f", outcome {record['outcome']}" if record.get("outcome") else "")
             + (f", reason {record['reason']}" if record.get("reason") else ""),
             f"score {_score(record.get('score'))}"]
    if "gain" in record:
        lines.append(f"gain over the head {record['gain']}, over its parent {record['parent_gain']}")
    lines.append(f"payout {_payout(record)}; deposit "
                 f"{record['deposit']}{record['deposit_denom']}" +
                 ("" if "deposit_returned" not in record else
                  " returned" if record["deposit_returned"] else " forfeited"))
    emit(ctx, record, "\n".join(lines))


def _version_tree(versions: list[dict], head: int) -> list[str]:
    children: dict = {}
    for v in versions:
        children.setdefault(v.get("parent"), []).append(v)
    known = {v["version"] for v in versions}
    roots = [v for v in versions if v.get("parent") is None or v["parent"] not in known]
    lines: list[str] = []

    def walk(v: dict, depth: int) -> None:
        origin = (f"round {v['round']} (updates {', '.join(map(str, v.get('updates', [])))})"
                  if v.get("round") is not None else "registered")
        lines.append(f"{'  ' * depth}v{v['version']}{' (head)' if v['version'] == head else ''}  "
                     f"parent {'-' if v.get('parent') is None else 'v' + str(v['parent'])}  {origin}")
        lines.extend(f"{'  ' * depth}    round {s['round']}: {_score(s)}" for s in v.get("scores", []))
        for child in children.get(v["version"], []):
            walk(child, depth + 1)

    for root in roots:
        walk(root, 0)
    return lines


@query.command("leaderboard")
@click.argument("model_id", type=click.IntRange(min=1))
@click.pass_context
@friendly
def query_leaderboard(ctx, model_id):
    """Trainers of MODEL ranked by what they earned, its closed rounds, and its version tree."""
    from client.owner import model, versions
    from client.rounds import leaderboard
    with client_for(ctx) as c:
        board = leaderboard(c, model_id)
        tree = versions(c, model_id)
        record = model(c, model_id)
    denom, deposit_denom = board["bounty_denom"], record["deposit_denom"]
    data = {**board, "deposit_denom": deposit_denom, "versions": tree["versions"]}
    lines = [f"model {model_id}: paid {board['paid']}{denom}, {board['escrow']}{denom} left; head "
             f"v{board['head_version']}; progress {board['gained']} of target {board['target_score']} "
             f"({board['metric']}, from {board['initial_score'] if board['initial_score'] is not None else '-'})",
             ""]
    if board["trainers"]:
        rows = [[rank, t["trainer"], f"{t['earned']}{denom}", t["submissions"], t["accepted"],
                 f"{t['harmful']}/{t['invalid']}", f"{t['forfeited']}{deposit_denom}"]
                for rank, t in enumerate(board["trainers"], 1)]
        lines.append(_table(["rank", "trainer", "earned", "submissions", "accepted", "harmful/invalid",
                             "forfeited"], rows))
    else:
        lines.append("no submissions yet")
    closed = [r for r in board["rounds"] if r.get("closed_height") is not None]
    if closed:
        lines += ["", "rounds:"]
        for r in closed:
            if r.get("void"):
                lines.append(f"  round {r['round']}: void ({r['submissions']} submissions)")
            else:
                head = f"new head v{r['new_version']}" if r.get("new_version") is not None else "head unchanged"
                paid = "payout pending" if r.get("payout_pending") else f"paid {r['paid']}{denom}"
                lines.append(f"  round {r['round']}: {r['submissions']} submissions, {head}, {paid}"
                             + (f" (winners {', '.join(map(str, r['winners']))})" if r.get("winners") else ""))
    lines += ["", "versions:"] + (_version_tree(tree["versions"], tree["head_version"]) or ["  none yet"])
    emit(ctx, data, "\n".join(lines))


@query.command("earnings")
@click.argument("who", metavar="[ADDRESS]", required=False)
@click.option("--key", "key_name", default=None, help="A key name in the keyring instead of an address.")
@click.pass_context
@friendly
def query_earnings(ctx, who, key_name):
    """What a trainer (ADDRESS, or --key NAME) earned and forfeited, and each of its submissions."""
    from chain.tx.address import from_bech32
    from client.rounds import earnings
    if (who is None) == (key_name is None):
        raise click.UsageError("give an ADDRESS or --key NAME (one of them)")
    address = from_bech32(keyring(ctx).info(key_name)["address"]) if key_name else resolve_address(ctx, who)
    with client_for(ctx) as c:
        reply = earnings(c, address)
    fmt = lambda coins: ", ".join(f"{a}{d}" for d, a in coins.items()) or "nothing"  # noqa: E731
    lines = [f"{reply['address']}: earned {fmt(reply['earned'])}; forfeited {fmt(reply['forfeited'])}"]
    if reply["submissions"]:
        rows = [[s["model_id"], s["round"], s["seq"], s["status"], s.get("outcome") or s.get("reason") or "-",
                 f"{s['payout']}{s.get('payout_denom') or ''}", f"{s['deposit']}{s['deposit_denom']}"]
                for s in reply["submissions"]]
        lines += ["", _table(["model", "round", "seq", "status", "outcome", "payout", "deposit"], rows)]
    emit(ctx, reply, "\n".join(lines))


@query.command("open-models")
@click.pass_context
@friendly
def query_open_models(ctx):
    """Active models with unspent bounty: what a trainer can still earn, and on what terms."""
    from client.rounds import open_models
    with client_for(ctx) as c:
        rows = open_models(c)
    text = _table(["id", "bounty left", "metric", "target", "head", "round", "deposit", "expires", "owner"],
                  [[m["id"], f"{m['bounty']}{m['bounty_denom']}", m["metric"], m["target_score"],
                    f"v{m['head_version']}", "-" if m["current_round"] is None else m["current_round"],
                    f"{m['deposit']}{m['deposit_denom']}", m["expiry_height"], m["owner"]] for m in rows])
    emit(ctx, rows, text if rows else "no open models")


# --- transactions ----------------------------------------------------------------------------------------
@tx.command("submit-update")
@click.argument("model_id", type=click.IntRange(min=1))
@click.option("--update", "update_file", required=True, type=click.Path(dir_okay=False, exists=True),
              help="File holding the canonical delta bytes (docs/rounds.md, 'Update format').")
@click.option("--round", "round_", type=click.IntRange(min=0), default=None,
              help="Default: the round open for the next block.")
@click.option("--parent", "parent", type=click.IntRange(min=0), default=None, help="Default: the head version.")
@click.option("--from", "from_key", required=True, help="Key (in the keyring) that signs and pays the deposit.")
@click.option("--no-check", is_flag=True, help="Skip the local check of the delta's format against the spec.")
@click.option("--no-wait", is_flag=True, help="Return after the mempool accepts the tx.")
@click.pass_context
@friendly
def submit_update(ctx, model_id, update_file, round_, parent, from_key, no_check, no_wait):
    """Seal the update in --update to the round's validators and submit it to MODEL, escrowing the deposit."""
    from client.owner import model, spec
    from client.rounds import check_update
    from client.trainer import Trainer
    update = Path(update_file).read_bytes()
    if not update:
        raise click.ClickException(f"{update_file} is empty")
    wallet = keyring(ctx).load(from_key, password(ctx))
    with client_for(ctx) as c:
        model(c, model_id)   # an unknown model fails here with its code (registry/1), before any check
        if not no_check:
            check_update(spec(c, model_id), update)
        receipt = Trainer(c, wallet).submit(model_id, update, round_=round_, parent_version=parent, wait=not no_wait)
    event = receipt_event(receipt, "submit_update")
    data = {"tx_hash": receipt.tx_hash, "height": receipt.height, "model_id": model_id,
            "round": int(event["round"]) if "round" in event else round_,
            "seq": int(event["seq"]) if "seq" in event else None,
            "parent": int(event["parent"]) if "parent" in event else parent,
            "deposit": event.get("deposit"), "envelope_hash": event.get("envelope_hash"),
            "submitter": wallet.address, "fee": fee_paid(receipt)}
    if not receipt.height:
        text = f"update for model {model_id} accepted into the mempool (tx {receipt.tx_hash}){fee_note(receipt)}"
    else:
        text = (f"update {data['seq']} of round {data['round']} of model {model_id} (parent v{data['parent']}) "
                f"sealed and committed in block {receipt.height}; deposit {data['deposit']} held "
                f"(tx {receipt.tx_hash}){fee_note(receipt)}")
    emit(ctx, data, text)


@tx.command("reveal")
@click.argument("model_id", type=click.IntRange(min=1))
@click.argument("round_", metavar="ROUND", type=click.IntRange(min=0))
@click.option("--shards", "shards_file", required=True, type=click.Path(dir_okay=False, exists=True),
              help="The owner's shards file (client.rounds.save_shards).")
@click.option("--index", required=True, type=click.IntRange(min=0), help="Which shard to reveal.")
@click.option("--from", "from_key", required=True, help="The model owner's key.")
@click.pass_context
@friendly
def reveal(ctx, model_id, round_, shards_file, index, from_key):
    """Reveal shard --index of MODEL for ROUND (the owner), with its Merkle proof; waits for the window's end."""
    from client.owner import Owner, model
    from client.rounds import load_shards
    shard_set = load_shards(shards_file)
    if index >= len(shard_set.shards):
        raise click.ClickException(f"{shards_file} has shards 0..{len(shard_set.shards) - 1}, not {index}")
    wallet = keyring(ctx).load(from_key, password(ctx))
    with client_for(ctx) as c:
        record = model(c, model_id)
        _check_shards(record, shard_set, shards_file)
        receipt = Owner(c, wallet).reveal(model_id, round_, shard_set, index)
    event = receipt_event(receipt, "reveal_shard")
    data = {"tx_hash": receipt.tx_hash, "height": receipt.height, "model_id": model_id, "round": round_,
            "shard_index": index, "event": event, "fee": fee_paid(receipt)}
    emit(ctx, data, f"shard {index} revealed for round {round_} of model {model_id} in block {receipt.height} "
                    f"by {to_bech32(wallet.address_bytes)}; validators score it over the next blocks "
                    f"(tx {receipt.tx_hash}){fee_note(receipt)}")


def _check_shards(record: dict, shard_set, shards_file) -> None:
    """The shards file must hold this model's shards (its Merkle root is the registered one)."""
    if record["shard_root"] != shard_set.root.hex():
        raise click.ClickException(f"{shards_file} does not hold model {record['id']}'s shards (Merkle root "
                                   f"{shard_set.root.hex()[:16]}..., the model's is {record['shard_root'][:16]}...)")


def _reveal_row(receipt) -> dict:
    event = receipt_event(receipt, "reveal_shard")
    return {"tx_hash": receipt.tx_hash, "height": receipt.height, "model_id": int(event["model_id"]),
            "round": int(event["round"]), "shard_index": int(event["shard_index"]),
            "updates": int(event.get("updates", 0)), "samples": int(event.get("samples", 0)),
            "scoring_fee": event.get("scoring_fee"), "fee": fee_paid(receipt)}


def _reveal_line(row: dict) -> str:
    return (f"round {row['round']} of model {row['model_id']}: shard {row['shard_index']} revealed in block "
            f"{row['height']}, {row['updates']} update(s) to score, scoring fee {row['scoring_fee']} "
            f"(tx {row['tx_hash']}; tx fee {row['fee']})")


@tx.command("reveal-due")
@click.argument("model_id", type=click.IntRange(min=1))
@click.option("--shards", "shards_file", required=True, type=click.Path(dir_okay=False, exists=True),
              help="The owner's shards file (client.rounds.save_shards).")
@click.option("--from", "from_key", required=True, help="The model owner's key.")
@click.option("--watch", is_flag=True, help="Keep revealing as rounds close, until Ctrl-C.")
@click.option("--poll", type=click.FloatRange(min=0.01), default=2.0, show_default=True,
              help="With --watch: seconds between checks.")
@click.pass_context
@friendly
def reveal_due(ctx, model_id, shards_file, from_key, watch, poll):
    """Reveal, each with the next unused shard, every round of MODEL whose submissions have closed, that took
    at least one submission and has no shard yet (Owner.reveal_due); rounds nobody submitted to need none.

    With --watch it keeps doing so every --poll seconds, printing each reveal (one JSON object per line with
    --output json), until Ctrl-C or the model closes. Do not send other txs from the same key meanwhile.
    """
    from client.errors import RpcError
    from client.owner import Owner, model
    from client.rounds import load_shards
    shard_set = load_shards(shards_file)
    wallet = keyring(ctx).load(from_key, password(ctx))
    as_json = ctx.obj["output"] == "json"
    with client_for(ctx) as c:
        record = model(c, model_id)
        _check_shards(record, shard_set, shards_file)
        if record["owner"] != wallet.address:
            raise click.ClickException(f"key {from_key} ({wallet.address}) is not model {model_id}'s owner "
                                       f"({record['owner']}): only the owner reveals")
        owner = Owner(c, wallet)
        if not watch:
            rows = [_reveal_row(r) for r in owner.reveal_due(model_id, shard_set)]
            emit(ctx, rows, "\n".join(map(_reveal_line, rows)) if rows else
                 f"nothing to reveal for model {model_id}: no closed round with submissions is waiting for a shard")
            return
        if not as_json:
            click.echo(f"watching model {model_id} (status {record['status']}) every {poll:g} s; Ctrl-C to stop")
        sent = 0
        try:
            while True:
                try:
                    rows = [_reveal_row(r) for r in owner.reveal_due(model_id, shard_set)]
                except RpcError as e:   # the node restarting or unreachable for a while: keep watching
                    click.echo(f"warning: {e}; retrying in {poll:g} s", err=True)
                    rows = None
                for row in rows or ():
                    sent += 1
                    click.echo(json.dumps(row, sort_keys=True) if as_json else _reveal_line(row))
                if rows == []:
                    status = model(c, model_id)["status"]
                    if status not in ("active", "uploading"):
                        if not as_json:
                            click.echo(f"model {model_id} is {status}: nothing more to reveal")
                        break
                time.sleep(poll)
        except KeyboardInterrupt:
            pass
        if not as_json:
            click.echo(f"stopped: {sent} shard(s) revealed")
