"""`gradchain bridge ...` (EVM keys, set-up, orchestrator, deposits), `gradchain tx bridge ...` and
`gradchain query bridge ...`. Needs the `bridge` extra. See docs/bridge.md."""
from __future__ import annotations

import json
from pathlib import Path

import click

from chain.tx.address import to_bech32
from cli.common import client_for, emit, fee_note, fee_paid, friendly, keyring, password, query, resolve_address, tx


def _hex20(text: str, what: str) -> bytes:
    raw = text[2:] if text.startswith("0x") else text
    try:
        value = bytes.fromhex(raw)
    except ValueError:
        value = b""
    if len(value) != 20:
        raise click.BadParameter(f"{what} must be a 20-byte hex EVM address (0x...)")
    return value


def _node_rpc(node_home: Path) -> str:
    import tomlkit
    from abci_app.settings import cometbft_home
    config = tomlkit.parse((cometbft_home(node_home) / "config" / "config.toml").read_text())
    return str(config["rpc"]["laddr"]).replace("tcp://", "http://").replace("0.0.0.0", "127.0.0.1")


def _evm_sender(w3, key_file: str | None, account: str | None):
    from relayer.evm import Evm, EvmKey
    if key_file:
        return Evm(w3, EvmKey.load(key_file))
    if account:
        return Evm(w3, w3.to_checksum_address(account))
    raise click.UsageError("give --evm-key-file FILE (a key this CLI signs with) or --evm-account ADDRESS "
                           "(an account the EVM node unlocks, e.g. a dev node's)")


@click.group("bridge")
def bridge():
    """The EVM bridge: keys, set-up, the orchestrator, deposits."""


@bridge.command("evm-key")
@click.option("--home", "node_home", required=True, type=click.Path(file_okay=False, exists=True), help="Node home.")
@click.pass_context
@friendly
def evm_key(ctx, node_home):
    """Create (once) and show the node's EVM key: <home>/evm_key.json, readable by its owner only."""
    from relayer.evm import ensure_evm_key
    key = ensure_evm_key(Path(node_home))
    emit(ctx, {"evm_address": key.checksum_address}, f"EVM address {key.checksum_address} "
                                                     f"(fund it with gas if this validator relays)")


@bridge.command("setup")
@click.option("--root", type=click.Path(file_okay=False, exists=True), default=None, help="A testnet root.")
@click.option("--home", "node_home", type=click.Path(file_okay=False, exists=True), default=None,
              help="A single node home (instead of --root).")
@click.option("--evm-rpc", required=True, help="EVM JSON-RPC URL, e.g. http://127.0.0.1:8545")
@click.option("--evm-key-file", default=None, help="Deployer key (JSON with private_key) that pays for deployment.")
@click.option("--evm-account", default=None, help="Or: an account the EVM node unlocks.")
@click.option("--fund-wei", default=10**18, show_default=True, help="Gas money sent to each validator's EVM key.")
@click.pass_context
@friendly
def setup(ctx, root, node_home, evm_rpc, evm_key_file, evm_account, fund_wei):
    """Before the chain's first start: give every validator node an EVM key, deploy contracts/Bridge.vy
    with the genesis valset, and write the `bridge` genesis section into every node's genesis."""
    from abci_app.testnet import load_manifest
    from relayer.deploy import setup_nodes
    from relayer.evm import connect, ensure_evm_key
    if bool(root) == bool(node_home):
        raise click.UsageError("give exactly one of --root (testnet) or --home (single node)")
    homes = [Path(n["home"]) for n in load_manifest(Path(root))["nodes"]] if root else [Path(node_home)]
    w3 = connect(evm_rpc)
    deployer = _evm_sender(w3, evm_key_file, evm_account)
    try:
        contract, app_state = setup_nodes(deployer, homes)
    except ValueError as e:
        raise click.ClickException(str(e)) from None
    for home in homes:
        deployer.fund(ensure_evm_key(home).checksum_address, fund_wei)
    validators = len(app_state["bridge"]["evm_addresses"])
    emit(ctx, {"bridge": contract.address, "evm_chain_id": w3.eth.chain_id, "validators": validators},
         f"bridge contract {contract.address} on EVM chain {w3.eth.chain_id}; "
         f"{validators} validator EVM keys in genesis; start the chain, then run "
         f"`gradchain bridge orchestrator` beside every validator")


@bridge.command("orchestrator")
@click.option("--home", "node_home", required=True, type=click.Path(file_okay=False, exists=True),
              help="The validator's node home (its EVM key and RPC address are read there).")
@click.option("--evm-rpc", required=True, help="EVM JSON-RPC URL of the chain the bridge contract lives on.")
@click.option("--bridge", "bridge_address", default=None, help="Bridge contract (default: from the chain's params).")
@click.option("--key", "operator_key", required=True, help="The validator operator's key in the keyring.")
@click.option("--confirmations", default=6, show_default=True, help="EVM blocks an event must be buried under.")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between passes.")
@click.option("--no-relay", is_flag=True, help="Claim and sign only; leave relaying to others.")
@click.pass_context
@friendly
def orchestrator(ctx, node_home, evm_rpc, bridge_address, operator_key, confirmations, interval, no_relay):
    """Watch the bridge contract, claim its events, sign valsets and batches, relay them. Runs until Ctrl-C."""
    import logging
    import signal
    import threading
    from client.client import Client
    from relayer.evm import Evm, EvmKey, EVM_KEY_FILE, connect
    from relayer.orchestrator import Orchestrator, RpcChain
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    wallet = keyring(ctx).load(operator_key, password(ctx))
    key = EvmKey.load(Path(node_home) / EVM_KEY_FILE)
    from click.core import ParameterSource
    explicit = ctx.find_root().get_parameter_source("node") != ParameterSource.DEFAULT
    client = Client(ctx.obj["node"] if explicit else _node_rpc(Path(node_home)))
    chain = RpcChain(client, wallet)
    bridge_address = bridge_address or chain.query("/bridge/params")["contract"]
    w3 = connect(evm_rpc)
    orch = Orchestrator(chain, Evm(w3, key), bridge_address, wallet.address, key,
                        confirmations=confirmations, relay=not no_relay)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    click.echo(f"orchestrator for {wallet.address} (EVM {key.checksum_address}) on bridge {bridge_address}")
    try:
        orch.run(interval, stop)
    except KeyboardInterrupt:
        pass


@bridge.command("deposit")
@click.option("--evm-rpc", required=True)
@click.option("--token", required=True, help="ERC-20 contract address.")
@click.option("--amount", required=True, type=int, help="In the token's base units.")
@click.option("--to", "to", required=True, help="gradchain address or key name credited with the vouchers.")
@click.option("--evm-key-file", default=None)
@click.option("--evm-account", default=None)
@click.pass_context
@friendly
def deposit(ctx, evm_rpc, token, amount, to, evm_key_file, evm_account):
    """Lock ERC-20 tokens in the bridge (approve + deposit); vouchers arrive once validators attest it."""
    from relayer.evm import connect
    recipient = resolve_address(ctx, to)
    with client_for(ctx) as c:
        params = c.query_json("/bridge/params")
    w3 = connect(evm_rpc)
    if w3.eth.chain_id != params["evm_chain_id"]:
        raise click.ClickException(f"{evm_rpc} is EVM chain {w3.eth.chain_id}; this bridge is on {params['evm_chain_id']}")
    sender = _evm_sender(w3, evm_key_file, evm_account)
    token_contract = sender.contract("0x" + _hex20(token, "--token").hex(), "TestToken")
    receipt = sender.deposit(sender.contract(params["contract"], "Bridge"), token_contract, amount, recipient)
    denom = f"bridge/{params['evm_chain_id']}/0x{_hex20(token, '--token').hex()}"
    emit(ctx, {"evm_tx": receipt["transactionHash"].hex(), "evm_block": receipt["blockNumber"], "denom": denom},
         f"deposited {amount} in EVM block {receipt['blockNumber']}; {to_bech32(recipient)} receives {denom} "
         f"once validators attest it")


@tx.group("bridge")
def tx_bridge():
    """Withdraw vouchers to the EVM chain; register a validator's EVM key."""


@tx_bridge.command("withdraw")
@click.argument("from_key")
@click.option("--token", required=True, help="ERC-20 contract address of the voucher's token.")
@click.option("--amount", required=True, type=int)
@click.option("--evm-recipient", required=True)
@click.pass_context
@friendly
def withdraw(ctx, from_key, token, amount, evm_recipient):
    """Escrow vouchers and queue their release to --evm-recipient (batched, signed, relayed)."""
    from chain.bridge.messages import MsgWithdraw
    token_bytes, recipient = _hex20(token, "--token"), _hex20(evm_recipient, "--evm-recipient")
    if amount <= 0:
        raise click.BadParameter("--amount must be positive")
    wallet = keyring(ctx).load(from_key, password(ctx))
    with client_for(ctx) as c:
        params = c.query_json("/bridge/params")
        receipt = c.submit(wallet, [MsgWithdraw(evm_chain_id=params["evm_chain_id"], token=token_bytes,
                                                amount=str(amount), evm_recipient=recipient)])
    emit(ctx, {"tx_hash": receipt.tx_hash, "height": receipt.height, "fee": fee_paid(receipt)},
         f"withdrawal queued in block {receipt.height}{fee_note(receipt)}; follow it with "
         "`gradchain query bridge withdrawals`")


@tx_bridge.command("cancel-withdraw")
@click.argument("from_key")
@click.argument("withdrawal_id", type=int)
@click.pass_context
@friendly
def cancel_withdraw(ctx, from_key, withdrawal_id):
    """Take back a withdrawal not yet in a batch."""
    from chain.bridge.messages import MsgCancelWithdraw
    wallet = keyring(ctx).load(from_key, password(ctx))
    with client_for(ctx) as c:
        receipt = c.submit(wallet, [MsgCancelWithdraw(withdrawal_id=withdrawal_id)])
    emit(ctx, {"tx_hash": receipt.tx_hash, "height": receipt.height, "fee": fee_paid(receipt)},
         f"cancelled in block {receipt.height}{fee_note(receipt)}")


@tx_bridge.command("set-evm-address")
@click.argument("from_key")
@click.option("--home", "node_home", required=True, type=click.Path(file_okay=False, exists=True))
@click.pass_context
@friendly
def set_evm_address(ctx, from_key, node_home):
    """Register the node's EVM key (created if missing) for validator operator FROM_KEY, with proof of possession."""
    from chain.bridge.evm import address_proof_digest
    from chain.bridge.messages import MsgSetEvmAddress
    from relayer.evm import ensure_evm_key
    key = ensure_evm_key(Path(node_home))
    wallet = keyring(ctx).load(from_key, password(ctx))
    with client_for(ctx) as c:
        proof = key.sign(address_proof_digest(c.chain_id, wallet.address_bytes, key.address))
        receipt = c.submit(wallet, [MsgSetEvmAddress(evm_address=key.address, signature=proof)])
    emit(ctx, {"tx_hash": receipt.tx_hash, "height": receipt.height, "evm_address": key.checksum_address,
               "fee": fee_paid(receipt)},
         f"EVM address {key.checksum_address} registered in block {receipt.height}{fee_note(receipt)}")


@query.command("bridge")
@click.argument("what", type=click.Choice(["params", "state", "orchestrators", "valsets", "batches", "withdrawals",
                                           "denoms", "votes"]))
@click.pass_context
@friendly
def query_bridge(ctx, what):
    """Bridge state: params, state, orchestrators, valsets, batches, withdrawals, denoms, votes."""
    with client_for(ctx) as c:
        data = c.query_json(f"/bridge/{what}")
    emit(ctx, data, json.dumps(data, indent=2, sort_keys=True))
