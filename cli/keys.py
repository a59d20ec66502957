"""`gradchain keys ...`"""
from __future__ import annotations

import click

from cli.common import emit, friendly, keyring, password


@click.group()
def keys():
    """Manage keys (stored encrypted in <home>/keyring)."""


@keys.command("add")
@click.argument("name")
@click.pass_context
@friendly
def keys_add(ctx, name):
    """Create a new key NAME."""
    wallet = keyring(ctx).add(name, password(ctx, confirm=True))
    emit(ctx, {"name": name, "address": wallet.address}, f"created key {name}: {wallet.address}")


@keys.command("list")
@click.pass_context
@friendly
def keys_list(ctx):
    items = keyring(ctx).list()
    emit(ctx, items, "\n".join(f"{k['name']}\t{k['address']}" for k in items) or "no keys yet: gradchain keys add NAME")


@keys.command("show")
@click.argument("name")
@click.pass_context
@friendly
def keys_show(ctx, name):
    info = keyring(ctx).info(name)
    emit(ctx, info, info["address"])
