"""Offline signing: `gradchain tx bank send ... --generate-only`, `gradchain tx sign`, `gradchain tx broadcast`.

The key can live on a machine with no network: generate the unsigned tx where the chain is reachable (it
needs the sender's sequence and the fee rules), carry the file to the key, sign, carry the signed file back,
broadcast. The files are JSON. Only the canonical `body` (hex) of an unsigned file is ever signed; `sign`
shows what that body holds, decoded afresh, so an edited summary in the file cannot mislead the signer.
"""
from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path

import click

from cli.common import (SIGNED_TX as SIGNED, UNSIGNED_TX as UNSIGNED, client_for, describe_body as describe, emit,
                        fee_note, fee_paid, friendly, keyring, password, tx)

def _read(path: str, kind: str) -> dict:
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise click.ClickException(f"{path}: not a readable JSON file ({e})") from None
    if not isinstance(doc, dict) or doc.get("kind") != kind:
        raise click.ClickException(f"{path}: not a {kind} file (its \"kind\" is {doc.get('kind') if isinstance(doc, dict) else None!r})")
    return doc


@tx.command("sign")
@click.argument("unsigned_file", type=click.Path(dir_okay=False))
@click.argument("from_key")
@click.pass_context
@friendly
def tx_sign(ctx, unsigned_file, from_key):
    """Sign UNSIGNED_FILE (from `--generate-only`) with key FROM_KEY; prints the signed tx file. Needs no node."""
    from chain.tx.errors import TxDecodeError
    from client.txbuilder import signed_tx
    from chain.tx.envelope import tx_hash
    doc = _read(unsigned_file, UNSIGNED)
    try:
        body = bytes.fromhex(doc.get("body", ""))
        what = describe(body)
    except (ValueError, TxDecodeError) as e:
        raise click.ClickException(f"{unsigned_file}: its body is not a canonical tx body ({e})") from None
    wallet = keyring(ctx).load(from_key, password(ctx))
    if what["signer"] != wallet.address:
        raise click.ClickException(f"the tx is for signer {what['signer']}; key {from_key!r} is {wallet.address}")
    click.echo("signing: " + json.dumps(what, sort_keys=True), err=True)
    raw = signed_tx(body, wallet.sign(body))
    data = {"kind": SIGNED, "tx_hash": tx_hash(raw).hex().upper(), "tx": base64.b64encode(raw).decode(), **what}
    emit(ctx, data, json.dumps(data, indent=2, sort_keys=True))


@tx.command("broadcast")
@click.argument("signed_file", type=click.Path(dir_okay=False))
@click.option("--no-wait", is_flag=True, help="Return after the mempool accepts the tx.")
@click.pass_context
@friendly
def tx_broadcast(ctx, signed_file, no_wait):
    """Broadcast SIGNED_FILE (from `gradchain tx sign`) and, by default, wait until it is in a block."""
    doc = _read(signed_file, SIGNED)
    try:
        raw = base64.b64decode(doc.get("tx", ""), validate=True)
    except (binascii.Error, ValueError) as e:
        raise click.ClickException(f"{signed_file}: its tx is not base64 ({e})") from None
    with client_for(ctx) as c:
        receipt = c.broadcast(raw, wait=not no_wait)
    where = f"committed in block {receipt.height}" if receipt.height else "accepted into the mempool"
    emit(ctx, {"tx_hash": receipt.tx_hash, "height": receipt.height, "gas_used": receipt.gas_used,
               "fee": fee_paid(receipt)}, f"tx {receipt.tx_hash}: {where}{fee_note(receipt)}")
