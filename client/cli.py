"""`gradchain` command line: node operation, keys, transactions and queries.

Every command accepts `--output json` for scripts. User mistakes print one line saying what was
wrong and what to do, and exit 1; no tracebacks.
"""
from __future__ import annotations

import functools
import json
import os
import re
import sys
from pathlib import Path

import click

from chain.tx.errors import ChainError
from chain.tx.address import from_bech32
from client.errors import GradchainError

DEFAULT_HOME = Path(os.environ.get("GRADCHAIN_HOME", Path.home() / ".gradchain"))
DEFAULT_NODE = os.environ.get("GRADCHAIN_NODE", "http://127.0.0.1:26657")
_COIN_RE = re.compile(r"([0-9]+)([a-z][a-z0-9/:._-]{2,127})")


def parse_coins(text: str) -> dict[str, int]:
    """"100ugrad,5uusdc" -> {"ugrad": 100, "uusdc": 5}."""
    out: dict[str, int] = {}
    for part in text.split(","):
        m = _COIN_RE.fullmatch(part.strip())
        if not m:
            raise click.BadParameter(f"{part!r} is not AMOUNTDENOM, e.g. 100ugrad")
        if m.group(2) in out:
            raise click.BadParameter(f"denom {m.group(2)} given twice")
        out[m.group(2)] = int(m.group(1))
    return out


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
        except (GradchainError, ChainError) as e:
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


def resolve_address(ctx, who: str) -> bytes:
    """A bech32 address, or the name of a key in the keyring."""
    if who.startswith("grad1"):
        return from_bech32(who)
    return from_bech32(keyring(ctx).info(who)["address"])


@click.group()
@click.option("--home", type=click.Path(file_okay=False), default=str(DEFAULT_HOME), show_default=True,
              help="Node home and keyring folder ($GRADCHAIN_HOME).")
@click.option("--node", default=DEFAULT_NODE, show_default=True, help="CometBFT RPC URL ($GRADCHAIN_NODE).")
@click.option("--output", "-o", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--password-file", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Read the keyring password from this file.")
@click.pass_context
def main(ctx, home, node, output, password_file):
    """gradchain: train models on private data, paid per improvement, on CometBFT."""
    ctx.obj = {"home": home, "node": node, "output": output, "password_file": password_file}


from client import cli_node  # noqa: E402  (registers init/start/status on `main`)
from client import cli_keys  # noqa: E402
from client import cli_tx  # noqa: E402
from client import cli_testnet  # noqa: E402
from client import cli_validators  # noqa: E402
from client import cli_bridge  # noqa: E402  (needs the `bridge` extra only when its commands run)
from client import cli_registry  # noqa: E402
from client import cli_rounds  # noqa: E402
from client import cli_train  # noqa: E402  (`gradchain train`)

__all__ = ["main", "cli_node", "cli_keys", "cli_tx", "cli_testnet", "cli_validators", "cli_rounds", "cli_train"]
