"""CLI pieces that need no running node: the node's EVM key, and refusals of bad input."""
import json

from click.testing import CliRunner

from cli.main import main
from relayer.evm import EvmKey


def test_evm_key_is_created_once_and_private(tmp_path):
    runner = CliRunner()
    first = runner.invoke(main, ["-o", "json", "bridge", "evm-key", "--home", str(tmp_path)])
    again = runner.invoke(main, ["-o", "json", "bridge", "evm-key", "--home", str(tmp_path)])
    assert first.exit_code == 0 and json.loads(first.output) == json.loads(again.output)
    path = tmp_path / "evm_key.json"
    assert path.stat().st_mode & 0o077 == 0
    assert EvmKey.load(path).checksum_address == json.loads(first.output)["evm_address"]


def test_withdraw_refuses_a_bad_evm_address_without_a_traceback(tmp_path):
    result = CliRunner().invoke(main, ["--home", str(tmp_path), "tx", "bridge", "withdraw", "alice", "--token", "0x12",
                                       "--amount", "5", "--evm-recipient", "0x" + "ab" * 20])
    assert result.exit_code != 0 and "20-byte hex EVM address" in result.output
    assert "Traceback" not in result.output
