"""Operator mistakes with `gradchain init` and `gradchain start` (abci_app/preflight.py): each ends in one
line that names the file or port and the fix, a non-zero exit code and no traceback, before CometBFT or
the app starts. One home is made with `gradchain init` per module and copied into each test to break."""
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from abci_app.ports import free_port_base
from abci_app.preflight import HomeLock, check_home
from cli.main import main

ROOT = Path(__file__).resolve().parents[2]
ENV = {"GRADCHAIN_PASSWORD": "test-password"}


def gradchain(home, *args):
    return CliRunner().invoke(main, ["--home", str(home), *map(str, args)], env=ENV)


def one_line_error(result, *needles) -> str:
    """The result failed with exactly one line of error output holding every needle."""
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    text = result.output.strip()
    assert "Traceback" not in text and len(text.splitlines()) == 1, text
    for needle in needles:
        assert str(needle) in text, (needle, text)
    return text


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    home = tmp_path_factory.mktemp("made") / "home"
    base = free_port_base(6)
    result = gradchain(home, "init", "--chain-id", "operr-1", "--port-base", base)
    assert result.exit_code == 0, result.output
    return home, base


@pytest.fixture
def home(made, tmp_path):
    copy = tmp_path / "home"
    shutil.copytree(made[0], copy)
    return copy


@pytest.fixture
def base(made):
    return made[1]


def config_toml(home: Path) -> Path:
    return home / "cometbft" / "config" / "config.toml"


def test_operator_error_good_home_passes_every_check(home):
    # the baseline the other tests break one thing of: a fresh home is startable
    assert check_home(home).abci_port > 0


def test_operator_error_missing_home(tmp_path):
    missing = tmp_path / "nowhere"
    one_line_error(gradchain(missing, "start"), f"no node home at {missing}", "gradchain --home", "init")


def test_operator_error_folder_without_settings(tmp_path):
    one_line_error(gradchain(tmp_path, "start"), str(tmp_path / "gradchain.toml"), "not found", "gradchain init")


def test_operator_error_bad_gradchain_toml(home):
    (home / "gradchain.toml").write_text("abci_port = [unclosed\n")
    one_line_error(gradchain(home, "start"), str(home / "gradchain.toml"), "not valid TOML", "line", "fix that line")


def test_operator_error_unknown_setting_in_gradchain_toml(home):
    path = home / "gradchain.toml"
    path.write_text(path.read_text() + "abci_prot = 1\n")
    one_line_error(gradchain(home, "start"), str(path), "unknown settings ['abci_prot']")


def test_operator_error_bad_config_toml(home):
    path = config_toml(home)
    path.write_text(path.read_text() + "\n[rpc\nladdr = 1\n")
    one_line_error(gradchain(home, "start"), str(path), "not valid TOML", "fix that line")


def test_operator_error_missing_config_toml(home):
    config_toml(home).unlink()
    one_line_error(gradchain(home, "start"), str(config_toml(home)), "not found", "restore it")


def test_operator_error_init_on_existing_home(home):
    keys_before = sorted((home / "keyring").iterdir())
    one_line_error(gradchain(home, "init"), f"{home} is already a node home", "start", "another --home")
    assert sorted((home / "keyring").iterdir()) == keys_before


def test_operator_error_init_over_a_file(tmp_path):
    path = tmp_path / "afile"
    path.write_text("")
    result = gradchain(path, "init")
    assert result.exit_code != 0 and "Traceback" not in result.output and "afile" in result.output


def test_operator_error_missing_genesis(home):
    genesis = home / "cometbft" / "config" / "genesis.json"
    genesis.unlink()
    one_line_error(gradchain(home, "start"), str(genesis), "not found", "copy the chain's genesis.json")


def test_operator_error_corrupt_genesis(home):
    genesis = home / "cometbft" / "config" / "genesis.json"
    genesis.write_text("{ not json")
    one_line_error(gradchain(home, "start"), str(genesis), "not a genesis file")


def test_operator_error_missing_priv_validator_key(home):
    key = home / "cometbft" / "config" / "priv_validator_key.json"
    key.unlink()
    one_line_error(gradchain(home, "start"), str(key), "not found", "new validator key", "height 0",
                   "restore the file")
    assert not key.exists()  # nothing made one behind the operator's back


def test_operator_error_missing_encryption_key_on_genesis_validator(home):
    key = home / "encryption_key.json"
    key.unlink()
    one_line_error(gradchain(home, "start"), str(key), "not found", "genesis validator", "never release",
                   "restore the file")


def test_operator_error_full_node_needs_no_encryption_key(home):
    # a node whose validator key is not in the genesis holds no shares: no encryption key is fine
    (home / "encryption_key.json").unlink()
    genesis_path = home / "cometbft" / "config" / "genesis.json"
    genesis = json.loads(genesis_path.read_text())
    genesis["app_state"]["validators"]["validators"][0]["consensus_pubkey"] = "AAAA"
    genesis_path.write_text(json.dumps(genesis))
    check_home(home)


@pytest.mark.parametrize("which, offset, setting", [
    ("P2P", 0, "p2p.laddr"), ("RPC", 1, "rpc.laddr"), ("ABCI", 2, "abci_port")])
def test_operator_error_port_in_use(home, base, which, offset, setting):
    port = base + offset
    with socket.socket() as busy:
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        busy.bind(("127.0.0.1", port))
        busy.listen()
        text = one_line_error(gradchain(home, "start"), f"{which} port {port} is already in use", setting)
    where = "gradchain.toml" if which == "ABCI" else "config.toml"
    assert where in text


def test_operator_error_busy_metrics_port_is_not_fatal(home, base):
    # a dashboard is not worth a validator's blocks: the app and CometBFT log a busy metrics port and run on
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", base + 4))
        busy.listen()
        check_home(home)


def test_operator_error_second_start_on_same_home(home):
    """A node already runs on the home (another process holds <home>/node.lock): refused with its pid."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from abci_app.preflight import HomeLock\n"
                               "with HomeLock(sys.argv[1]):\n    print('locked', flush=True); sys.stdin.read()",
         str(home)], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        one_line_error(gradchain(home, "start"), f"a node is already running on {home}", f"pid {holder.pid}",
                       "node.lock", "stop it first")
    finally:
        holder.communicate("", timeout=10)
    # the lock goes with its process: the home is startable again
    check_home(home)


def test_operator_error_lock_is_exclusive_in_process(home):
    with HomeLock(home):
        one_line_error(gradchain(home, "start"), "already running", f"pid {os.getpid()}")
    with HomeLock(home):
        pass


def test_operator_error_node_module_refuses_too(home):
    """`python -m abci_app.node` (how `gradchain testnet start` runs nodes) makes the same checks."""
    (home / "cometbft" / "config" / "priv_validator_key.json").unlink()
    done = subprocess.run([sys.executable, "-m", "abci_app.node", "--home", str(home)], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "priv_validator_key.json not found" in done.stderr
    assert "Traceback" not in done.stderr
