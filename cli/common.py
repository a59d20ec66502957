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
from chain.tx.address import from_bech32, to_bech32
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


def error_fields(e: BaseException) -> dict:
    """{"name", "codespace", "code", "log"} of an error: the chain's own for a chain error (a failed tx, or
    a ChainError raised before sending); codespace "" and code 1 for the CLI's and the node's."""
    from client.errors import TxFailed
    if isinstance(e, TxFailed):
        return {"name": e.name, "codespace": e.codespace, "code": e.code, "log": e.log}
    if isinstance(e, ChainError):
        return {"name": type(e).__name__, "codespace": e.codespace, "code": e.code, "log": str(e)}
    if isinstance(e, click.ClickException):
        name = "CliError" if type(e) is click.ClickException else type(e).__name__
        return {"name": name, "codespace": "", "code": 1, "log": e.format_message()}
    return {"name": type(e).__name__, "codespace": "", "code": 1, "log": str(e)}


class CliError(click.ClickException):
    """One clear line on stderr, or under `-o json` one JSON object {"error": {name, codespace, code, log}}
    (also on stderr, so stdout holds only results); exit code 1 (2 for usage errors)."""

    def __init__(self, error: BaseException, as_json: bool):
        super().__init__(error.format_message() if isinstance(error, click.ClickException) else str(error))
        self.fields, self.as_json = error_fields(error), as_json
        self.exit_code = getattr(error, "exit_code", 1) if isinstance(error, click.ClickException) else 1

    def show(self, file=None) -> None:
        if not self.as_json:
            return super().show(file)
        click.echo(json.dumps({"error": self.fields}, sort_keys=True), err=True)


def _json_output() -> bool:
    ctx = click.get_current_context(silent=True)
    return bool(ctx and isinstance(ctx.obj, dict) and ctx.obj.get("output") == "json")


def friendly(fn):
    """Turn expected failures into one clear line (or JSON under `-o json`) and exit code 1."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except CliError:
            raise
        except (GradchainError, ChainError, NodeError, NodeKeyError, SettingsError) as e:
            raise CliError(e, _json_output()) from None
        except click.ClickException as e:
            if not _json_output():
                raise
            raise CliError(e, True) from None
    return wrapper


def node_url(url: str) -> str:
    """--node accepts CometBFT's own spelling tcp://host:port (as in config.toml) for http://host:port."""
    return "http://" + url[len("tcp://"):] if url.startswith("tcp://") else url


class GlobalOptionsGroup(click.Group):
    """The `gradchain` group: its options (--home, --node, -o, ...) are also accepted after any subcommand,
    e.g. `gradchain query models -o json`. Each command, found when it runs, gets hidden copies of the
    options it does not declare itself (`bridge evm-key --home` keeps its own meaning); a copy given on the
    command line overrides the value before the subcommand. Errors under `-o json` (even click's own usage
    errors inside a subcommand) print as JSON."""

    def get_command(self, ctx, name):
        command = super().get_command(ctx, name)
        if command is not None:
            _add_global_options(command, self.params)
        return command

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except CliError:
            raise
        except click.ClickException as e:
            if not (isinstance(ctx.obj, dict) and ctx.obj.get("output") == "json"):
                raise
            raise CliError(e, True) from None


def _add_global_options(command: click.Command, params) -> None:
    if getattr(command, "_gradchain_globals", False):
        return
    command._gradchain_globals = True
    own = {flag for p in command.params for flag in (*p.opts, *p.secondary_opts)}
    for param in params:
        if isinstance(param, click.Option) and not own & set(param.opts):
            command.params.append(click.Option([param.name, *param.opts], type=param.type, default=None, hidden=True,
                                               expose_value=False, callback=_set_global(param.name)))
    for sub in getattr(command, "commands", {}).values():
        _add_global_options(sub, params)


def _set_global(name: str):
    def callback(ctx, param, value):
        if value is None or not isinstance(ctx.obj, dict):
            return
        if name == "node":
            ctx.obj["node"] = node_url(value)
        elif name in ("trust_height", "trust_hash"):
            height, digest = ctx.obj.get("trust", (None, None))
            ctx.obj["trust"] = (value, digest) if name == "trust_height" else (height, value)
        else:
            ctx.obj[name] = value
    return callback


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
    if (height is None) != (digest is None):
        raise click.UsageError("--trust-height and --trust-hash go together")
    return Client(ctx.obj["node"], trusted_height=height, trusted_hash=digest,
                  query_height=ctx.obj.get("query_height") or 0)


def receipt_event(receipt, kind: str) -> dict:
    """The attributes of the first event of type `kind` in a tx receipt, or {}."""
    for event in receipt.events:
        if event.get("type") == kind:
            return {a.get("key"): a.get("value") for a in event.get("attributes", [])}
    return {}


def fee_paid(receipt) -> str | None:
    """The fee the chain charged for a committed tx, e.g. "1234ugrad" (its `tx` event); None before a block."""
    return receipt_event(receipt, "tx").get("fee") if receipt.height else None


def fee_note(receipt) -> str:
    """What to append to a tx's one-line result."""
    fee = fee_paid(receipt)
    return f"; fee {fee}" if fee else "; the fee is charged when it is committed" if not receipt.height else ""


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


# --- txs as documents: `tx query` output and offline signing (cli/offline.py) --------------------------
def plain_json(value, name: str = ""):
    """A message as JSON: addresses in bech32, short bytes in hex, long ones (weights, updates) as their size
    and sha256."""
    import dataclasses
    import hashlib
    if isinstance(value, bytes):
        if len(value) == 20 and name.endswith("address") and not name.startswith("evm"):
            return to_bech32(value)
        if len(value) <= 64:
            return value.hex()
        return {"bytes": len(value), "sha256": hashlib.sha256(value).hexdigest()}
    if dataclasses.is_dataclass(value):
        return {f.name: plain_json(getattr(value, f.name), f.name) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [plain_json(v, name) for v in value]
    return value


def describe_body(body: bytes) -> dict:
    """What a tx body asks for: chain, signer, sequence, fee, memo, messages, decoded from the bytes."""
    from chain.tx.address import to_bech32
    from chain.tx.envelope import TxBody, address_of
    decoded = TxBody.decode(body)
    messages = []
    for m in decoded.messages:
        kind = next((f.name for f in m.SCHEMA if getattr(m, f.name) is not None), "unknown")
        messages.append({"type": kind, **plain_json(getattr(m, kind, None))})
    return {"chain_id": decoded.chain_id, "signer": to_bech32(address_of(decoded.public_key)),
            "sequence": decoded.sequence, "fee": f"{decoded.fee.amount}{decoded.fee.denom}" if decoded.fee else "0",
            "memo": decoded.memo, "messages": messages}


UNSIGNED_TX, SIGNED_TX = "gradchain-unsigned-tx", "gradchain-signed-tx"


def unsigned_document(ctx, key_name: str, messages: list, memo: str) -> dict:
    """The unsigned tx of `messages` from key `key_name` (its public key only: no password), with the sender's
    next sequence and the minimum fee read from the node."""
    from client.txbuilder import unsigned_body
    info = keyring(ctx).info(key_name)
    with client_for(ctx) as c:
        body = unsigned_body(bytes.fromhex(info["public_key"]), c.chain_id, c.sequence(info["address"]), messages,
                             c.params(), memo)
    return {"kind": UNSIGNED_TX, **describe_body(body), "body": body.hex()}
