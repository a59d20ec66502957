"""`gradchain` command line: node operation, keys, transactions and queries.

Every command accepts `--output json` for scripts. User mistakes print one line saying what was
wrong and what to do, and exit 1; no tracebacks.

This module only assembles the command: the `main` group and its options, and each command module's
commands (the modules import cli/common.py, never this file or each other).
"""
from __future__ import annotations

import click

from cli import (bridge, explorer, keys, node, offline, owner, privacy, registry, rounds, testnet, train, tx,
                 validators)
from cli.common import DEFAULT_HOME, DEFAULT_NODE, GlobalOptionsGroup, node_url, query
from cli.common import tx as tx_group


@click.group(cls=GlobalOptionsGroup)
@click.option("--home", type=click.Path(file_okay=False), default=str(DEFAULT_HOME), show_default=True,
              help="Node home and keyring folder ($GRADCHAIN_HOME).")
@click.option("--node", default=DEFAULT_NODE, show_default=True,
              help="CometBFT RPC URL: http://HOST:PORT, or tcp://HOST:PORT as in config.toml ($GRADCHAIN_NODE).")
@click.option("--output", "-o", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--password-file", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Read the keyring password from this file.")
@click.option("--trust-height", type=click.IntRange(min=1), default=None, envvar="GRADCHAIN_TRUST_HEIGHT",
              help="Light client anchor: a block height you trust ($GRADCHAIN_TRUST_HEIGHT); with --trust-hash.")
@click.option("--trust-hash", default=None, envvar="GRADCHAIN_TRUST_HASH",
              help="Light client anchor: that block's hash, hex, got out of band ($GRADCHAIN_TRUST_HASH). "
                   "Without an anchor the first block the node shows is trusted.")
@click.option("--height", "query_height", type=click.IntRange(min=0), default=0,
              help="Answer queries as of this block height (0: the latest), within the node's "
                   "query_retention_blocks; proofs are checked against that height's header.")
@click.pass_context
def main(ctx, home, node, output, password_file, trust_height, trust_hash, query_height):
    """gradchain: train models on private data, paid per improvement, on CometBFT.

    These options also work after the subcommand: `gradchain query models -o json --node URL`."""
    # --trust-height and --trust-hash go together: checked where they are used (cli/common.py, client_for)
    ctx.obj = {"home": home, "node": node_url(node), "output": output, "password_file": password_file,
               "trust": (trust_height, trust_hash), "query_height": query_height}


# `tx ...` and `query ...` subcommands are added to these groups by tx, validators, bridge, registry and rounds
for command in (node.init, node.start, node.status, node.version, node.show_node_id, node.show_validator,
                node.export, node.unsafe_reset_all, keys.keys, tx_group, query, testnet.testnet,
                bridge.bridge, train.train_cmd, privacy.privacy, explorer.explorer):
    main.add_command(command)

__all__ = ["main", "bridge", "explorer", "keys", "node", "owner", "privacy", "registry", "rounds", "testnet", "train", "tx", "validators"]
