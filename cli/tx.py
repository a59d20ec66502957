"""`gradchain tx ...` and `gradchain query ...`"""
from __future__ import annotations

import json

import click

from chain.tx.address import to_bech32
from cli.common import (client_for, emit, fee_note, fee_paid, friendly, keyring, parse_coins, password, plain_json,
                        query, resolve_address, tx, unsigned_document)


@tx.group()
def bank():
    """Token transfers."""


@bank.command("send")
@click.argument("from_key")
@click.argument("to")
@click.argument("amount")
@click.option("--memo", default="")
@click.option("--no-wait", is_flag=True, help="Return after the mempool accepts the tx.")
@click.option("--generate-only", is_flag=True,
              help="Print the unsigned tx (for `gradchain tx sign` on another machine) instead of sending it.")
@click.pass_context
@friendly
def bank_send(ctx, from_key, to, amount, memo, no_wait, generate_only):
    """Send AMOUNT (e.g. 100ugrad,5uusdc) from key FROM_KEY to address or key name TO."""
    coins = parse_coins(amount)
    recipient = resolve_address(ctx, to)
    if generate_only:
        from chain.bank.messages import MsgSend
        from client.txbuilder import coins as make_coins
        doc = unsigned_document(ctx, from_key, [MsgSend(to_address=recipient, amount=make_coins(coins))], memo)
        emit(ctx, doc, json.dumps(doc, indent=2, sort_keys=True))
        return
    wallet = keyring(ctx).load(from_key, password(ctx))
    with client_for(ctx) as c:
        receipt = c.send(wallet, recipient, coins, memo=memo, wait=not no_wait)
    data = {"tx_hash": receipt.tx_hash, "height": receipt.height, "gas_used": receipt.gas_used,
            "fee": fee_paid(receipt)}
    where = f"committed in block {receipt.height}" if receipt.height else "accepted into the mempool"
    emit(ctx, data, f"{amount} -> {to_bech32(recipient)}: {where} (tx {receipt.tx_hash}){fee_note(receipt)}")


@query.group("bank")
def query_bank():
    """Balances and supply."""


@query_bank.command("balances")
@click.argument("who")
@click.option("--denom", default=None, help="Only this denom, verified: a Merkle proof against a signed header.")
@click.pass_context
@friendly
def query_balances(ctx, who, denom):
    """Balances of WHO (address or key name)."""
    address = resolve_address(ctx, who)
    with client_for(ctx) as c:
        balances = {denom: c.balance(address, denom, prove=True)} if denom else c.balances(address)
        anchor = "your --trust-hash" if ctx.obj.get("trust", (None, None))[0] else "the first block (no --trust-hash)"
    text = "\n".join(f"{amount}\t{d}" for d, amount in sorted(balances.items())) or "no balances"
    if denom:
        text += (f"\t(verified: Merkle proof against a header signed by the validators, light client from "
                 f"{anchor})")
    emit(ctx, {"address": to_bech32(address), "balances": {d: str(a) for d, a in balances.items()},
               **({"verified": True} if denom else {})}, text)


@query_bank.command("supply")
@click.pass_context
@friendly
def query_supply(ctx):
    with client_for(ctx) as c:
        supply = c.supply()
    emit(ctx, {d: str(a) for d, a in supply.items()}, "\n".join(f"{a}\t{d}" for d, a in sorted(supply.items())))


@query.command("account")
@click.argument("who")
@click.pass_context
@friendly
def query_account(ctx, who):
    address = resolve_address(ctx, who)
    with client_for(ctx) as c:
        seq = c.sequence(address)
    emit(ctx, {"address": to_bech32(address), "sequence": seq}, f"{to_bech32(address)} sequence {seq}")


@query.command("tx")
@click.argument("tx_hash")
@click.pass_context
@friendly
def query_tx(ctx, tx_hash):
    """A committed tx: result, signer, fee offered and paid, memo, messages and events."""
    try:
        digest = bytes.fromhex(tx_hash)
    except ValueError:
        digest = b""
    if len(digest) != 32:
        raise click.BadParameter(f"{tx_hash!r} is not a tx hash (64 hex digits)", param_hint="TX_HASH")
    with client_for(ctx) as c:
        found = c.rpc.tx(digest)
    if found is None:
        raise click.ClickException(f"tx {tx_hash} not found (not committed yet, or pruned)")
    result = found["tx_result"]
    events = [{"type": e.get("type"), "attributes": {a.get("key"): a.get("value") for a in e.get("attributes", [])}}
              for e in result.get("events", [])]
    data = {"tx_hash": tx_hash.upper(), "height": int(found["height"]), "code": int(result.get("code", 0)),
            "codespace": result.get("codespace", ""), "log": result.get("log", ""),
            "gas_used": int(result.get("gas_used", 0) or 0),
            "fee_paid": next((e["attributes"].get("fee") for e in events if e["type"] == "tx"), None),
            **_decoded(found.get("tx")), "events": events}
    emit(ctx, data, _tx_text(data))


def _decoded(tx_b64: str | None) -> dict:
    """signer, sequence, fee offered, memo and messages of a tx as the RPC returns it (base64)."""
    import base64

    from chain.tx.envelope import Tx, TxBody, address_of
    if not tx_b64:
        return {}
    try:
        body = TxBody.decode(Tx.decode(base64.b64decode(tx_b64)).body)
    except Exception:   # the chain refused it at decode: show the result and events only
        return {"messages": None}
    messages = []
    for m in body.messages:
        kind = next((f.name for f in m.SCHEMA if getattr(m, f.name) is not None), "unknown")
        messages.append({"type": kind, **plain_json(getattr(m, kind, None))})
    return {"signer": to_bech32(address_of(body.public_key)), "sequence": body.sequence,
            "fee": f"{body.fee.amount}{body.fee.denom}" if body.fee else None, "memo": body.memo,
            "messages": messages}


def _tx_text(data: dict) -> str:
    status = "ok" if data["code"] == 0 else f"failed {data['codespace']}/{data['code']}: {data['log']}"
    lines = [f"tx {data['tx_hash']} in block {data['height']}: {status}",
             f"gas used {data['gas_used']}, fee paid {data['fee_paid'] or '-'}"]
    if data.get("signer"):
        lines.append(f"signer {data['signer']} sequence {data['sequence']}, fee offered {data['fee']}"
                     + (f", memo {data['memo']!r}" if data["memo"] else ""))
    for m in data.get("messages") or []:
        fields = ", ".join(f"{k}={json.dumps(v, sort_keys=True)}" for k, v in m.items() if k != "type")
        lines.append(f"message {m['type']}: {fields}")
    for e in data["events"]:
        lines.append(f"event {e['type']}: " + ", ".join(f"{k}={v}" for k, v in e["attributes"].items()))
    return "\n".join(lines)


@query.command("txs")
@click.option("--events", "events", required=True,
              help="CometBFT event query, e.g. \"transfer.recipient='grad1...' AND tx.height>5\".")
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--limit", type=click.IntRange(1, 100), default=30, show_default=True, help="Txs per page.")
@click.pass_context
@friendly
def query_txs(ctx, events, page, limit):
    """Committed txs whose events match EVENTS (the node's tx index; oldest first): hash, height, result,
    signer and messages. An index answer: `query tx HASH` shows one tx in full."""
    with client_for(ctx) as c:
        reply = c.rpc.tx_search(events, page=page, per_page=limit)
    found = []
    for t in reply.get("txs") or []:
        result = t["tx_result"]
        found.append({"tx_hash": t["hash"], "height": int(t["height"]), "code": int(result.get("code", 0)),
                      "codespace": result.get("codespace", ""), **_decoded(t.get("tx"))})
    total = int(reply.get("total_count", len(found)))
    data = {"query": events, "page": page, "limit": limit, "total": total, "txs": found}
    lines = [f"{total} tx(s) match {events!r}" + (f" (page {page}, {limit} per page)" if total > limit else "")]
    for t in found:
        status = "ok" if t["code"] == 0 else f"failed {t['codespace']}/{t['code']}"
        kinds = ",".join(m["type"] for m in t.get("messages") or [])
        lines.append(f"  {t['tx_hash']} block {t['height']} {status} {t.get('signer', '')} {kinds}".rstrip())
    emit(ctx, data, "\n".join(lines))


@query.command("block")
@click.argument("height", type=click.IntRange(min=1), required=False)
@click.pass_context
@friendly
def query_block(ctx, height):
    """Block HEIGHT (default: the latest): hash, time, proposer, app hash and its txs' hashes."""
    import base64

    from chain.tx.envelope import tx_hash
    from client.errors import RpcError
    with client_for(ctx) as c:
        try:
            reply = c.rpc.block(height)
        except RpcError as e:
            if height and "height" in str(e).lower():
                raise click.ClickException(f"no block {height} on this node ({e})") from None
            raise
    header, txs = reply["block"]["header"], reply["block"]["data"].get("txs") or []
    data = {"height": int(header["height"]), "hash": reply["block_id"]["hash"], "time": header["time"],
            "chain_id": header["chain_id"], "proposer": header["proposer_address"], "app_hash": header["app_hash"],
            "num_txs": len(txs), "txs": [tx_hash(base64.b64decode(t)).hex().upper() for t in txs]}
    emit(ctx, data, "\n".join([f"block {data['height']} {data['hash']} at {data['time']}",
                                f"chain {data['chain_id']}, proposer {data['proposer']}",
                                f"app hash {data['app_hash']} (the state after block {data['height'] - 1})",
                                f"{data['num_txs']} tx(s)", *(f"  {t}" for t in data["txs"])]))
