"""`gradchain tx validators ...` and `gradchain query validators`."""
from __future__ import annotations

from pathlib import Path

import click

from cli.common import client_for, emit, fee_note, fee_paid, friendly, keyring, parse_coins, password, query, tx


@tx.group("validators")
def tx_validators():
    """Join or leave the validator set."""


@tx_validators.command("create")
@click.argument("from_key")
@click.option("--node-home", required=True, type=click.Path(file_okay=False, exists=True),
              help="Home of the node that will validate (its consensus and encryption keys are read there).")
@click.option("--bond", required=True, help="e.g. 5000000ugrad")
@click.pass_context
@friendly
def create(ctx, from_key, node_home, bond):
    """Make the node at --node-home a validator operated by FROM_KEY, bonding --bond."""
    from abci_app.genesis_tools import consensus_pubkey, ensure_encryption_key
    from abci_app.node_key import NodeKeyError
    from chain.tx.coins import Coin
    from chain.validators.messages import MsgCreateValidator
    coins = parse_coins(bond)
    if len(coins) != 1:
        raise click.BadParameter("bond is one coin, e.g. 5000000ugrad")
    (denom, amount), = coins.items()
    home = Path(node_home)
    try:
        encryption_pubkey = ensure_encryption_key(home)
    except NodeKeyError:   # no key yet and no node password configured: encrypt it with the keyring password
        encryption_pubkey = ensure_encryption_key(home, password(ctx))
    msg = MsgCreateValidator(consensus_pubkey=consensus_pubkey(home), encryption_pubkey=encryption_pubkey,
                             bond=Coin.of(denom, amount))
    wallet = keyring(ctx).load(from_key, password(ctx))
    with client_for(ctx) as c:
        receipt = c.submit(wallet, [msg])
    emit(ctx, {"tx_hash": receipt.tx_hash, "height": receipt.height, "fee": fee_paid(receipt)},
         f"validator created in block {receipt.height}; it votes from block {receipt.height + 2}{fee_note(receipt)}")


@tx_validators.command("unbond")
@click.argument("from_key")
@click.pass_context
@friendly
def unbond(ctx, from_key):
    """Leave the validator set; the bond returns after the unbonding period."""
    from chain.validators.messages import MsgUnbond
    wallet = keyring(ctx).load(from_key, password(ctx))
    with client_for(ctx) as c:
        receipt = c.submit(wallet, [MsgUnbond()])
    emit(ctx, {"tx_hash": receipt.tx_hash, "height": receipt.height, "fee": fee_paid(receipt)},
         f"unbonding from block {receipt.height}{fee_note(receipt)}")


@query.command("validators")
@click.pass_context
@friendly
def query_validators(ctx):
    """The validator set as the app sees it: operator, status, bond, power."""
    with client_for(ctx) as c:
        rows = c.validators()
    emit(ctx, rows, "\n".join(f"{v['operator']}\t{v['status']}\t{v['bond']}\tpower {v['power']}" for v in rows)
         or "no validators")
