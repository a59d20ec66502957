"""Recovery phrases (client/mnemonic.py): SLIP-0010 Ed25519 derivation matches the spec's test vector, a
phrase gives the same key every time, `gradchain keys add` shows it once and `keys add --recover` restores
exactly that key; a mistyped phrase is one clear error and stores nothing."""
import json

import pytest
from click.testing import CliRunner

from cli.main import main
from client.mnemonic import HARDENED, MnemonicError, new_mnemonic, slip10_ed25519, wallet_from_mnemonic

ENV = {"GRADCHAIN_PASSWORD": "test-password"}


def test_mnemonic_slip10_ed25519_matches_the_spec_test_vector_1():
    seed = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
    assert slip10_ed25519(seed, []).hex() == "2b4be7f19ee27bbf30c667b642d5f4aa69fd169872f8fc3059c08ebae2eb19e7"
    assert slip10_ed25519(seed, [HARDENED]).hex() == "68e0fe46dfb67e368c75379acec591dad19df3cde26e63b93a8e704f1dade7a3"
    with pytest.raises(ValueError):
        slip10_ed25519(seed, [0])           # Ed25519 has no unhardened derivation


def test_mnemonic_gives_the_same_key_every_time_and_refuses_a_typo():
    words = new_mnemonic()
    assert len(words.split()) == 24
    assert wallet_from_mnemonic(words).address == wallet_from_mnemonic("  " + words.upper() + " ").address
    assert wallet_from_mnemonic(words, account=1).address != wallet_from_mnemonic(words).address
    with pytest.raises(MnemonicError):
        wallet_from_mnemonic(" ".join(words.split()[:-1] + ["qwerty"]))     # not a BIP-39 word
    with pytest.raises(MnemonicError):
        wallet_from_mnemonic(" ".join(words.split()[:-1]))                  # a word missing


def test_mnemonic_keys_add_shows_it_once_and_recover_restores_the_same_key(tmp_path):
    def run(*args, input=None):
        return CliRunner().invoke(main, ["--home", str(tmp_path), "-o", "json", *args], env=ENV, input=input)
    created = json.loads(run("keys", "add", "alice").output)
    assert len(created["mnemonic"].split()) == 24
    assert json.loads(run("keys", "show", "alice").output)["address"] == created["address"]
    restored = run("keys", "add", "again", "--recover", input=created["mnemonic"] + "\n")
    assert restored.exit_code == 0, restored.output
    assert json.loads(restored.output) == {"name": "again", "address": created["address"]}
    wrong = run("keys", "add", "typo", "--recover", input="not a real phrase at all\n")
    assert wrong.exit_code != 0 and "Traceback" not in wrong.output and "recovery phrase" in wrong.output
    assert "typo" not in [k["name"] for k in json.loads(run("keys", "list").output)]
