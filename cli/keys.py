"""`gradchain keys ...`"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from cli.common import emit, friendly, keyring, password


@click.group()
def keys():
    """Manage keys (stored encrypted in <home>/keyring)."""


@keys.command("add")
@click.argument("name")
@click.option("--recover", is_flag=True, help="Restore the key from its 24-word recovery phrase (asked for, or "
                                              "read from stdin; never give it on the command line).")
@click.pass_context
@friendly
def keys_add(ctx, name, recover):
    """Create a new key NAME and show its recovery phrase once, or restore one with --recover."""
    import sys

    from client.mnemonic import new_mnemonic, wallet_from_mnemonic
    if recover:
        words = (click.prompt("Recovery phrase", hide_input=True) if sys.stdin.isatty()
                 else sys.stdin.readline())
    else:
        words = new_mnemonic()
    wallet = wallet_from_mnemonic(words)
    keyring(ctx).add(name, password(ctx, confirm=True), wallet)
    data = {"name": name, "address": wallet.address}
    if recover:
        emit(ctx, data, f"recovered key {name}: {wallet.address}")
        return
    emit(ctx, {**data, "mnemonic": words},
         f"created key {name}: {wallet.address}\n\nrecovery phrase (shown once; anyone with it holds the key, "
         f"write it down and keep it offline):\n{words}")


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


@keys.command("delete")
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (needed when not on a terminal).")
@click.pass_context
@friendly
def keys_delete(ctx, name, yes):
    """Delete key NAME from the keyring (for good: `keys export` it first to keep a copy)."""
    ring = keyring(ctx)
    info = ring.info(name)
    if not yes:
        if not sys.stdin.isatty():
            raise click.ClickException(f"deleting key {name!r} ({info['address']}) cannot be undone: pass --yes")
        click.confirm(f"Delete key {name!r} ({info['address']})? This cannot be undone", abort=True)
    ring.delete(name)
    emit(ctx, {"deleted": name, "address": info["address"]}, f"deleted key {name}: {info['address']}")


@keys.command("rename")
@click.argument("old")
@click.argument("new")
@click.pass_context
@friendly
def keys_rename(ctx, old, new):
    """Rename key OLD to NEW (its password is needed: the name is part of what is encrypted)."""
    wallet = keyring(ctx).rename(old, new, password(ctx))
    emit(ctx, {"name": new, "old_name": old, "address": wallet.address}, f"renamed key {old} to {new}: {wallet.address}")


@keys.command("export")
@click.argument("name")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True),
              help="Write the key file here (owner-only); refuses to overwrite.")
@click.pass_context
@friendly
def keys_export(ctx, name, out):
    """Export key NAME as its encrypted key file (the keyring's own format, same password); `keys import` reads it."""
    record = keyring(ctx).export(name)
    path = Path(out)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise click.ClickException(f"{path} already exists: choose another --out") from None
    with os.fdopen(fd, "w") as f:
        json.dump(record, f, indent=2)
    emit(ctx, {"name": name, "address": record["address"], "out": str(path)},
         f"exported key {name} ({record['address']}) to {path}, encrypted with its keyring password")


@keys.command("import")
@click.argument("name")
@click.argument("key_file", metavar="FILE", type=click.Path(dir_okay=False, exists=True))
@click.pass_context
@friendly
def keys_import(ctx, name, key_file):
    """Import FILE, a key file written by `keys export`, as key NAME. The key's password opens it."""
    try:
        record = json.loads(Path(key_file).read_text())
    except ValueError:
        raise click.ClickException(f"{key_file} is not a gradchain key file (not JSON)") from None
    if not isinstance(record, dict):
        raise click.ClickException(f"{key_file} is not a gradchain key file")
    wallet = keyring(ctx).import_record(record, password(ctx), name)
    emit(ctx, {"name": name, "address": wallet.address}, f"imported key {name}: {wallet.address}")
