"""`gradchain tx ...` and `gradchain query ...`"""
from __future__ import annotations

import click

from chain.tx.address import to_bech32
from cli.common import (client_for, emit, fee_note, fee_paid, friendly, keyring, parse_coins, password, query,
                        resolve_address, tx)


@tx.group()
def bank():
    """Token transfers."""


@bank.command("send")
@click.argument("from_key")
@click.argument("to")
@click.argument("amount")
@click.option("--memo", default="")
@click.option("--no-wait", is_flag=True, help="Return after the mempool accepts the tx.")
@click.pass_context
@friendly
def bank_send(ctx, from_key, to, amount, memo, no_wait):
    """Send AMOUNT (e.g. 100ugrad,5uusdc) from key FROM_KEY to address or key name TO."""
    coins = parse_coins(amount)
    recipient = resolve_address(ctx, to)
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
    with client_for(ctx) as c:
        found = c.rpc.tx(bytes.fromhex(tx_hash))
    if found is None:
        raise click.ClickException(f"tx {tx_hash} not found (not committed yet, or pruned)")
    result = found["tx_result"]
    data = {"height": int(found["height"]), "code": int(result.get("code", 0)),
            "codespace": result.get("codespace", ""), "log": result.get("log", "")}
    emit(ctx, data, f"height {data['height']} code {data['code']} {data['codespace']} {data['log']}".rstrip())
