"""Offline signing (cli/offline.py) against an in-process chain: `tx bank send --generate-only` needs no
password and prints the unsigned tx; `tx sign` signs only the canonical body and shows what it holds;
`tx broadcast` sends it once (a replay is refused by its sequence); mistakes are one clear error."""
import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

_TESTS = Path(__file__).resolve().parent.parent
if str(_TESTS / "registry") not in sys.path:
    sys.path.insert(0, str(_TESTS / "registry"))

import client.client  # noqa: E402
from chainutil import ALICE, BOB  # noqa: E402
from cli.main import main  # noqa: E402
from client.wallet import Keyring  # noqa: E402
from registryutil import InProcessRPC, RegistryChain  # noqa: E402

PASSWORD = "test-password"


@pytest.fixture
def cli(tmp_path, monkeypatch):
    chain = RegistryChain()
    rpc = InProcessRPC(chain)
    original = client.client.Client

    def in_process(url="", timeout=30.0, **kwargs):
        c = original("http://in-process")
        c.rpc.close()
        c.rpc = rpc
        return c
    monkeypatch.setattr(client.client, "Client", in_process)
    Keyring(tmp_path / "keyring").add("alice", PASSWORD, ALICE)
    Keyring(tmp_path / "keyring").add("bob", PASSWORD, BOB)

    def run(*args, ok=True, with_password=True):
        env = {"GRADCHAIN_PASSWORD": PASSWORD if with_password else None}
        result = CliRunner().invoke(main, ["--home", str(tmp_path), "-o", "json", *map(str, args)], env=env)
        if ok:
            assert result.exit_code == 0, result.output
            return json.loads(result.stdout)
        assert result.exit_code != 0 and "Traceback" not in result.output, result.output
        return json.loads(result.output.strip().splitlines()[-1])["error"]
    run.chain, run.home = chain, tmp_path
    return run


def balance(cli, who, denom="ugrad"):
    from chain.bank import keeper as bank
    return bank.balance(cli.chain.app.store, who.address_bytes, denom)


def test_offline_signing_generate_sign_broadcast_sends_exactly_once(cli):
    unsigned = cli("tx", "bank", "send", "alice", BOB.address, "1234ugrad", "--memo", "cold", "--generate-only",
                   with_password=False)                      # the key's public key is enough
    assert unsigned["kind"] == "gradchain-unsigned-tx" and unsigned["signer"] == ALICE.address
    assert unsigned["messages"][0]["type"] == "send" and unsigned["memo"] == "cold"
    (cli.home / "unsigned.json").write_text(json.dumps(unsigned))
    signed = cli("tx", "sign", cli.home / "unsigned.json", "alice")
    assert signed["kind"] == "gradchain-signed-tx" and signed["sequence"] == unsigned["sequence"]
    (cli.home / "signed.json").write_text(json.dumps(signed))
    before = balance(cli, BOB)
    receipt = cli("tx", "broadcast", cli.home / "signed.json")
    assert receipt["tx_hash"] == signed["tx_hash"] and receipt["height"] > 0 and receipt["fee"] == unsigned["fee"]
    assert balance(cli, BOB) == before + 1234
    replay = cli("tx", "broadcast", cli.home / "signed.json", ok=False)
    assert replay["name"] == "WrongSequence", replay                # the sequence is spent: sent once
    assert balance(cli, BOB) == before + 1234


def test_offline_signing_shows_the_body_not_the_files_summary(cli):
    """A file whose readable summary was edited (amount, recipient) still signs its body, and `sign` reports
    what the body holds."""
    unsigned = cli("tx", "bank", "send", "alice", BOB.address, "5ugrad", "--generate-only")
    edited = {**unsigned, "messages": [{"type": "send", "amount": "5000000ugrad"}], "memo": "harmless"}
    (cli.home / "edited.json").write_text(json.dumps(edited))
    signed = cli("tx", "sign", cli.home / "edited.json", "alice")
    assert signed["messages"] == unsigned["messages"] and signed["memo"] == unsigned["memo"]


def test_offline_signing_error_path_wrong_key_bad_files(cli):
    unsigned = cli("tx", "bank", "send", "alice", BOB.address, "5ugrad", "--generate-only")
    (cli.home / "unsigned.json").write_text(json.dumps(unsigned))
    wrong = cli("tx", "sign", cli.home / "unsigned.json", "bob", ok=False)
    assert ALICE.address in wrong["log"] and BOB.address in wrong["log"]
    (cli.home / "bad.json").write_text(json.dumps({**unsigned, "body": unsigned["body"][:-2] + "zz"}))
    assert "not a canonical tx body" in cli("tx", "sign", cli.home / "bad.json", "alice", ok=False)["log"]
    (cli.home / "junk.json").write_text("{")
    assert "not a readable JSON file" in cli("tx", "sign", cli.home / "junk.json", "alice", ok=False)["log"]
    assert "not a gradchain-signed-tx file" in cli("tx", "broadcast", cli.home / "unsigned.json", ok=False)["log"]
    (cli.home / "nob64.json").write_text(json.dumps({"kind": "gradchain-signed-tx", "tx": "***"}))
    assert "not base64" in cli("tx", "broadcast", cli.home / "nob64.json", ok=False)["log"]
