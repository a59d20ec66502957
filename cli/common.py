"""What every `gradchain` command shares: output (`emit`), one-line errors (`friendly`), the keyring and
its password, addresses and coins from the command line, the node client, presets, and the `tx` and
`query` groups the command modules add to. Imports no command module (cli/main.py assembles them).
"""
from __future__ import annotations

import functools
import json
import os
import sys
import tomllib
from pathlib import Path

import click

from abci_app.node import NodeError
from abci_app.node_key import NodeKeyError
from abci_app.settings import SettingsError

from chain.tx.errors import ChainError
from chain.tx.address import from_bech32
from client.coins import parse_coins as sdk_parse_coins
from client.errors import CoinFormatError, GradchainError

DEFAULT_HOME = Path(os.environ.get("GRADCHAIN_HOME", Path.home() / ".gradchain"))
DEFAULT_NODE = os.environ.get("GRADCHAIN_NODE", "http://127.0.0.1:26657")


def parse_coins(text: str) -> dict[str, int]:
    """"100ugrad,5uusdc" -> {"ugrad": 100, "uusdc": 5} (the SDK's parser, client/coins.py); bad text is a
    click.BadParameter with the SDK's message."""
    try:
        return sdk_parse_coins(text)
    except CoinFormatError as e:
        raise click.BadParameter(str(e)) from None


def emit(ctx: click.Context, data, text: str | None = None) -> None:
    if ctx.obj["output"] == "json":
        click.echo(json.dumps(data, indent=2, sort_keys=True))
    else:
        click.echo(text if text is not None else json.dumps(data, indent=2, sort_keys=True))


def friendly(fn):
    """Turn expected failures into one clear line and exit code 1."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (GradchainError, ChainError, NodeError, NodeKeyError, SettingsError) as e:
            raise click.ClickException(str(e)) from None
    return wrapper


def password(ctx: click.Context, confirm: bool = False) -> str:
    """From --password-file, then $GRADCHAIN_PASSWORD, then a prompt (only on a terminal)."""
    if ctx.obj["password_file"]:
        return Path(ctx.obj["password_file"]).read_text().rstrip("\n")
    if os.environ.get("GRADCHAIN_PASSWORD"):
        return os.environ["GRADCHAIN_PASSWORD"]
    if not sys.stdin.isatty():
        raise click.ClickException("keyring password needed: pass --password-file or set GRADCHAIN_PASSWORD")
    return click.prompt("Keyring password", hide_input=True, confirmation_prompt=confirm)


def keyring(ctx):
    from client.wallet import Keyring
    return Keyring(Path(ctx.obj["home"]) / "keyring")


def privacy_ledger(ctx):
    from client.privacy_ledger import PrivacyLedger
    return PrivacyLedger(Path(ctx.obj["home"]) / "privacy_ledger.json")


def resolve_address(ctx, who: str) -> bytes:
    """A bech32 address, or the name of a key in the keyring."""
    if who.startswith("grad1"):
        return from_bech32(who)
    return from_bech32(keyring(ctx).info(who)["address"])


def client_for(ctx):
    from client.client import Client
    height, digest = ctx.obj.get("trust", (None, None))
    return Client(ctx.obj["node"], trusted_height=height, trusted_hash=digest)


def receipt_event(receipt, kind: str) -> dict:
    """The attributes of the first event of type `kind` in a tx receipt, or {}."""
    for event in receipt.events:
        if event.get("type") == kind:
            return {a.get("key"): a.get("value") for a in event.get("attributes", [])}
    return {}


PRESETS = Path(__file__).resolve().parent.parent / "config"


def load_preset(name: str) -> dict:
    path = PRESETS / f"{name}.toml"
    if not path.exists():
        raise click.ClickException(f"no preset {name!r} in {PRESETS}")
    return tomllib.loads(path.read_text())


@click.group()
def tx():
    """Sign and broadcast transactions."""


@click.group()
def query():
    """Read chain state."""
