"""CLI conventions (issue 19, item 5): `gradchain version`; the global options also after the subcommand;
`--node tcp://...`; errors under `-o json` as {"error": {name, codespace, code, log}}; the fee paid on tx
results; `keys delete | rename | export | import`; `query tx` with messages, fee and events; `query block`.
Chain commands run against an in-process chain (tests/registry/registryutil.py's InProcessRPC)."""
import json
import socket
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

_TESTS = Path(__file__).resolve().parent.parent
if str(_TESTS / "registry") not in sys.path:
    sys.path.insert(0, str(_TESTS / "registry"))

import client.client  # noqa: E402
import client.rpc  # noqa: E402
from abci_app.convert import APP_VERSION, SOFTWARE_VERSION  # noqa: E402
from abci_app.node import COMETBFT_VERSION  # noqa: E402
from chainutil import ALICE, BOB, Chain  # noqa: E402
from cli.common import node_url  # noqa: E402
from cli.main import main  # noqa: E402
from client.wallet import Keyring  # noqa: E402
from registryutil import InProcessRPC  # noqa: E402

PASSWORD = "test-password"


def run(*args, env=None, input=None):
    return CliRunner().invoke(main, [str(a) for a in args], env={"GRADCHAIN_PASSWORD": PASSWORD, **(env or {})},
                              input=input)


@pytest.fixture
def chain_cli(tmp_path, monkeypatch):
    """`gradchain --home HOME ...` with every Client on an in-process chain; alice (funded) in the keyring."""
    chain = Chain()
    rpc = InProcessRPC(chain)   # one for every Client: it keeps the results of the txs it saw
    original = client.client.Client
    seen = {}

    def in_process(url="", timeout=30.0, **anchor):
        seen["url"] = url
        c = original("http://in-process")
        c.rpc.close()
        c.rpc = rpc
        return c

    monkeypatch.setattr(client.client, "Client", in_process)
    Keyring(tmp_path / "keyring").add("alice", PASSWORD, ALICE)

    def cli(*args, **kw):
        return run("--home", tmp_path, *args, **kw)
    cli.chain, cli.seen, cli.home = chain, seen, tmp_path
    return cli


def json_error(result) -> dict:
    assert result.exit_code != 0 and "Traceback" not in result.output, result.output
    error = json.loads(result.output.strip().splitlines()[-1])["error"]
    assert set(error) == {"name", "codespace", "code", "log"}
    return error


# --- version ------------------------------------------------------------------------------------------
def test_version_reports_app_protocol_and_cometbft():
    result = run("version", "-o", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["app_version"] == SOFTWARE_VERSION and data["app_protocol_version"] == APP_VERSION
    assert data["cometbft_required"] == COMETBFT_VERSION
    assert data["cometbft_version"] == COMETBFT_VERSION   # the repo's .bin/cometbft (scripts/setup.sh)
    text = run("version").output
    assert f"gradchain {SOFTWARE_VERSION}" in text and f"app protocol version: {APP_VERSION}" in text
    assert f"cometbft: {COMETBFT_VERSION}" in text


def test_version_without_cometbft_says_so(monkeypatch):
    import abci_app.node
    monkeypatch.setattr(abci_app.node, "_candidates", lambda: [])
    data = json.loads(run("version", "-o", "json").output)
    assert data["cometbft_version"] is None and data["cometbft_path"] is None
    assert "cometbft: not found" in run("version").output


# --- global options after the subcommand ----------------------------------------------------------------
def test_global_options_after_the_subcommand(tmp_path):
    Keyring(tmp_path / "keyring").add("alice", PASSWORD, ALICE)
    before = run("--home", tmp_path, "-o", "json", "keys", "list")
    after = run("keys", "list", "--home", tmp_path, "-o", "json")
    assert before.exit_code == after.exit_code == 0, after.output
    assert json.loads(after.output) == json.loads(before.output) == [{"name": "alice", "address": ALICE.address,
                                                                     "public_key": ALICE.public_key.hex()}]
    # after the subcommand wins over before it
    assert run("-o", "text", "keys", "show", "alice", "--home", tmp_path, "--output", "json").output.startswith("{")


def test_global_node_option_after_a_nested_subcommand(chain_cli):
    result = chain_cli("query", "bank", "balances", "alice", "-o", "json", "--node", "tcp://10.1.2.3:26657")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["balances"]["ugrad"] == "1000000"
    assert chain_cli.seen["url"] == "http://10.1.2.3:26657"


def test_subcommand_own_home_option_keeps_its_meaning(tmp_path):
    # `bridge evm-key --home` is the node home of that command, not the global one: no hidden copy added
    from cli.main import main as group
    ctx = group.make_context("gradchain", ["bridge", "evm-key", "--help"], resilient_parsing=True)
    evm_key = group.get_command(ctx, "bridge").get_command(ctx, "evm-key")
    homes = [p for p in evm_key.params if "--home" in p.opts]
    assert len(homes) == 1 and homes[0].name == "node_home"
    assert any("--output" in p.opts for p in evm_key.params)


# --- --node tcp:// ---------------------------------------------------------------------------------------
def test_node_tcp_url_maps_to_http(chain_cli):
    assert node_url("tcp://127.0.0.1:26657") == "http://127.0.0.1:26657"
    assert node_url("http://h:1") == "http://h:1" and node_url("https://h") == "https://h"
    chain_cli("--node", "tcp://127.0.0.1:1234", "query", "account", "alice")
    assert chain_cli.seen["url"] == "http://127.0.0.1:1234"


def test_status_with_tcp_node_reaches_http(monkeypatch):
    urls = []

    class FakeRPC:
        def __init__(self, url, timeout=30.0):
            urls.append(url)

        def status(self):
            return {"node_info": {"network": "x-1", "moniker": "m"}, "validator_info": {"voting_power": "5"},
                    "sync_info": {"latest_block_height": "7", "latest_app_hash": "AB", "catching_up": False}}

        def close(self):
            pass
    monkeypatch.setattr(client.rpc, "CometRPC", FakeRPC)
    result = run("status", "--node", "tcp://127.0.0.1:26657", "-o", "json")
    assert result.exit_code == 0, result.output
    assert urls == ["http://127.0.0.1:26657"] and json.loads(result.output)["height"] == 7


# --- errors under -o json ------------------------------------------------------------------------------
def test_json_error_for_a_chain_error(chain_cli):
    # alice sends more than she has: the chain's InsufficientFunds (bank/1), as JSON, exit 1
    result = chain_cli("tx", "bank", "send", "alice", BOB.address, "999999999ugrad", "-o", "json")
    error = json_error(result)
    assert result.exit_code == 1
    assert (error["name"], error["codespace"], error["code"]) == ("InsufficientFunds", "bank", 1)
    assert error["log"]
    text = chain_cli("tx", "bank", "send", "alice", BOB.address, "999999999ugrad")
    assert text.exit_code == 1 and "InsufficientFunds (bank/1)" in text.output and not text.output.startswith("{")


def test_json_error_for_an_unreachable_node(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]   # closed once the block ends: nothing listens there
    result = run("--home", tmp_path, "status", "-o", "json", "--node", f"tcp://127.0.0.1:{port}")
    error = json_error(result)
    assert error == {"name": "RpcError", "codespace": "", "code": 1, "log": error["log"]}
    assert f"http://127.0.0.1:{port}" in error["log"]


def test_json_error_for_usage_and_keyring_mistakes(tmp_path):
    missing = json_error(run("--home", tmp_path, "-o", "json", "query", "tx"))
    assert missing["name"] == "MissingParameter" and "TX_HASH" in missing["log"]
    assert run("--home", tmp_path, "-o", "json", "query", "tx").exit_code == 2
    bad_hash = json_error(run("--home", tmp_path, "query", "tx", "zz", "-o", "json"))
    assert bad_hash["name"] == "BadParameter" and "64 hex digits" in bad_hash["log"]
    unknown = json_error(run("--home", tmp_path, "-o", "json", "keys", "show", "nobody"))
    assert unknown["name"] == "KeyringError" and "no key named 'nobody'" in unknown["log"]


# --- the fee on tx results ---------------------------------------------------------------------------
def test_tx_result_shows_fee_paid(chain_cli):
    result = chain_cli("tx", "bank", "send", "alice", BOB.address, "5ugrad", "-o", "json")
    assert result.exit_code == 0, result.output
    sent = json.loads(result.output)
    assert sent["fee"].endswith("ugrad") and int(sent["fee"][:-len("ugrad")]) > 0
    balance = json.loads(chain_cli("query", "bank", "balances", "alice", "-o", "json").output)["balances"]["ugrad"]
    assert int(balance) == 1_000_000 - 5 - int(sent["fee"][:-len("ugrad")])   # what it says is what was taken
    text = chain_cli("tx", "bank", "send", "alice", BOB.address, "5ugrad").output
    assert "; fee " in text and "ugrad" in text


# --- keys delete / rename / export / import ------------------------------------------------------------
def test_keys_export_import_round_trip(tmp_path):
    other = tmp_path / "other"
    assert run("--home", tmp_path, "keys", "add", "carol").exit_code == 0
    address = Keyring(tmp_path / "keyring").info("carol")["address"]
    out = tmp_path / "carol.key"
    exported = run("--home", tmp_path, "keys", "export", "carol", "--out", out, "-o", "json")
    assert exported.exit_code == 0, exported.output
    record = json.loads(out.read_text())
    assert record == json.loads((tmp_path / "keyring" / "carol.json").read_text())   # the keyring's own format
    assert "private" not in out.read_text() and oct(out.stat().st_mode & 0o777) == "0o600"
    again = run("--home", tmp_path, "keys", "export", "carol", "--out", out)
    assert again.exit_code == 1 and "already exists" in again.output
    imported = run("--home", other, "keys", "import", "carol2", out, "-o", "json")
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.output) == {"name": "carol2", "address": address}
    assert Keyring(other / "keyring").load("carol2", PASSWORD).address == address
    wrong = run("--home", other, "keys", "import", "carol3", out, env={"GRADCHAIN_PASSWORD": "not-the-password"})
    assert wrong.exit_code == 1 and "wrong password" in wrong.output and "Traceback" not in wrong.output
    (tmp_path / "junk.json").write_text('{"hello": 1}')
    junk = run("--home", other, "keys", "import", "x", tmp_path / "junk.json")
    assert junk.exit_code == 1 and "not a gradchain key file" in junk.output


def test_keys_rename_keeps_the_key(tmp_path):
    run("--home", tmp_path, "keys", "add", "dave")
    address = Keyring(tmp_path / "keyring").info("dave")["address"]
    result = run("--home", tmp_path, "keys", "rename", "dave", "erin", "-o", "json")
    assert result.exit_code == 0, result.output
    ring = Keyring(tmp_path / "keyring")
    assert [k["name"] for k in ring.list()] == ["erin"] and ring.load("erin", PASSWORD).address == address
    clash = run("--home", tmp_path, "keys", "add", "frank")
    assert clash.exit_code == 0
    taken = run("--home", tmp_path, "keys", "rename", "erin", "frank")
    assert taken.exit_code == 1 and "already exists" in taken.output
    assert {k["name"] for k in ring.list()} == {"erin", "frank"}


def test_keys_delete_asks_or_needs_yes(tmp_path):
    run("--home", tmp_path, "keys", "add", "gina")
    refused = run("--home", tmp_path, "keys", "delete", "gina")   # not a terminal, no --yes
    assert refused.exit_code == 1 and "pass --yes" in refused.output
    assert Keyring(tmp_path / "keyring").info("gina")
    done = run("--home", tmp_path, "keys", "delete", "gina", "--yes", "-o", "json")
    assert done.exit_code == 0 and json.loads(done.output)["deleted"] == "gina"
    assert Keyring(tmp_path / "keyring").list() == []
    gone = run("--home", tmp_path, "keys", "delete", "gina", "--yes")
    assert gone.exit_code == 1 and "no key named 'gina'" in gone.output


# --- query tx, query block ----------------------------------------------------------------------------
def test_query_tx_shows_messages_fee_and_events(chain_cli):
    sent = json.loads(chain_cli("tx", "bank", "send", "alice", BOB.address, "7ugrad", "--memo", "hi",
                                "-o", "json").output)
    result = chain_cli("query", "tx", sent["tx_hash"].lower(), "-o", "json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert found["tx_hash"] == sent["tx_hash"] and found["height"] == sent["height"] and found["code"] == 0
    assert found["signer"] == ALICE.address and found["sequence"] == 0 and found["memo"] == "hi"
    assert found["fee"] == found["fee_paid"] == sent["fee"]
    assert found["messages"] == [{"type": "send", "to_address": BOB.address,
                                  "amount": [{"denom": "ugrad", "amount": "7"}]}]
    transfer = next(e for e in found["events"] if e["type"] == "transfer")
    assert transfer["attributes"]["recipient"] == BOB.address and transfer["attributes"]["amount"] == "7ugrad"
    text = chain_cli("query", "tx", sent["tx_hash"]).output
    assert "message send" in text and f"fee paid {sent['fee']}" in text and "event transfer" in text
    missing = chain_cli("query", "tx", "AB" * 32)
    assert missing.exit_code == 1 and "not found" in missing.output


def test_query_block_lists_its_txs(tmp_path, monkeypatch):
    import base64
    from chain.tx.envelope import tx_hash
    raw = b"\x01\x02"

    def block(self, height=None):
        if height == 9:
            raise client.rpc.RpcError("block: Internal error height 9 must be less than or equal to the current "
                                      "blockchain height 8")
        return {"block_id": {"hash": "H" * 64}, "block": {
            "header": {"height": str(height or 8), "time": "2026-01-01T00:00:00Z", "chain_id": "c-1",
                       "proposer_address": "P" * 40, "app_hash": "A" * 64},
            "data": {"txs": [base64.b64encode(raw).decode()]}}}
    monkeypatch.setattr(client.rpc.CometRPC, "block", block)
    result = run("--home", tmp_path, "query", "block", "5", "-o", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["height"] == 5 and data["num_txs"] == 1 and data["txs"] == [tx_hash(raw).hex().upper()]
    assert data["chain_id"] == "c-1" and data["hash"] == "H" * 64
    assert json.loads(run("--home", tmp_path, "query", "block", "-o", "json").output)["height"] == 8
    error = json_error(run("--home", tmp_path, "query", "block", "9", "-o", "json"))
    assert "no block 9" in error["log"]


def test_historical_query_height_option_answers_as_at_that_height(tmp_path, monkeypatch):
    """`gradchain query bank balances ADDR --height H`: the balance as of block H (the node keeps recent
    heights); a height it no longer keeps is one clear error naming the oldest it has."""
    from chainutil import BOB, send_tx
    chain = Chain(query_retention=3)
    rpc = InProcessRPC(chain)
    original = client.client.Client

    def in_process(url="", timeout=30.0, query_height=0, **anchor):
        c = original("http://in-process", query_height=query_height)
        c.rpc.close()
        c.rpc = rpc
        return c
    monkeypatch.setattr(client.client, "Client", in_process)
    chain.block([send_tx(ALICE, BOB, {"ugrad": 5}, 0)])
    then = chain.height
    chain.block([send_tx(ALICE, BOB, {"ugrad": 7}, 1)])
    now = json.loads(run("--home", tmp_path, "-o", "json", "query", "bank", "balances", BOB.address).output)
    old = json.loads(run("--home", tmp_path, "query", "bank", "balances", BOB.address, "--height", then,
                         "-o", "json").output)
    amount = lambda reply: int(reply["balances"]["ugrad"])  # noqa: E731
    assert amount(now) - amount(old) == 7
    for _ in range(4):
        chain.block([])
    error = json_error(run("--home", tmp_path, "-o", "json", "query", "bank", "balances", BOB.address,
                           "--height", then))
    assert (error["codespace"], error["code"]) == ("query", 3) and "answers heights" in error["log"]
