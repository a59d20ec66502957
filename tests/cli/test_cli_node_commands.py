"""`gradchain show-node-id`, `show-validator` and `export` on a node home made by `gradchain init` (CometBFT
from .bin): the node's id, its consensus and encryption keys without a password, and an export that a
fresh chain imports to the same state."""
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from abci_app.ports import free_port_base
from cli.main import main

ROOT = Path(__file__).resolve().parents[2]
ENV = {"GRADCHAIN_PASSWORD": "test-password", "PATH": f"{ROOT / '.bin'}:{os.environ.get('PATH', '')}"}


def gradchain(home, *args):
    result = CliRunner().invoke(main, ["--home", str(home), "-o", "json", *map(str, args)], env=ENV)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("nodecmd") / "home"
    gradchain(home, "init", "--chain-id", "nodecmd-1", "--port-base", free_port_base(6))
    return home


def test_show_node_id_and_validator_name_the_nodes_keys(home):
    nid = json.loads(gradchain(home, "show-node-id"))["node_id"]
    assert len(nid) == 40 and int(nid, 16) >= 0
    shown = json.loads(gradchain(home, "show-validator"))
    genesis = json.loads((home / "cometbft" / "config" / "genesis.json").read_text())
    [validator] = genesis["app_state"]["validators"]["validators"]      # the app's genesis validator is this node
    assert shown["consensus_pubkey"] == validator["consensus_pubkey"] and len(shown["consensus_address"]) == 40
    assert shown["encryption_pubkey"] == validator["encryption_pubkey"]
    assert len(shown["encryption_pubkey"]) == 44                     # 32 bytes, base64, read without a password


def test_export_of_a_stopped_node_imports_into_a_fresh_chain_with_the_same_state(home, tmp_path):
    from chain.app import Application
    from chain.genesis import export_genesis
    from chain.store.kv import MemoryKV
    from abci_app.node import _open_application
    from abci_app.settings import load_settings
    from chain.results import BlockContext
    refused = CliRunner().invoke(main, ["--home", str(home), "export"], env=ENV)
    assert refused.exit_code == 1 and "committed no block yet" in refused.output and "Traceback" not in refused.output
    genesis = json.loads((home / "cometbft" / "config" / "genesis.json").read_text())
    app, kv = _open_application(home, load_settings(home))          # the node's own database, two blocks in
    app.init_chain(genesis["chain_id"], 1, json.dumps(genesis["app_state"]).encode())
    for h in (1, 2):
        app.finalize_block(BlockContext(genesis["chain_id"], h, 1_700_000_000 + h, 0, b"\x00" * 20), [])
        app.commit()
    kv.close()
    out = tmp_path / "export.json"
    gradchain(home, "export", "--out", out)
    exported = json.loads(out.read_text())
    assert exported["height"] == 2
    fresh = Application(MemoryKV())
    fresh.init_chain(genesis["chain_id"], 1, json.dumps(exported["app_state"]).encode())
    assert export_genesis(fresh._block) == exported["app_state"]


def test_unsafe_reset_all_deletes_blocks_and_state_keeps_keys_and_asks_first(tmp_path):
    from abci_app.node import _open_application
    from abci_app.settings import db_path, load_settings
    from chain.results import BlockContext
    home = tmp_path / "home"
    gradchain(home, "init", "--chain-id", "reset-1", "--port-base", free_port_base(6))
    genesis = json.loads((home / "cometbft" / "config" / "genesis.json").read_text())
    app, kv = _open_application(home, load_settings(home))
    app.init_chain(genesis["chain_id"], 1, json.dumps(genesis["app_state"]).encode())
    app.finalize_block(BlockContext(genesis["chain_id"], 1, 1_700_000_001, 0, b"\x00" * 20), [])
    app.commit()
    kv.close()
    keys = {p: p.read_bytes() for p in [home / "cometbft" / "config" / "priv_validator_key.json",
                                        home / "cometbft" / "config" / "node_key.json",
                                        home / "cometbft" / "config" / "genesis.json", home / "encryption_key.json"]}
    state_file = home / "cometbft" / "data" / "priv_validator_state.json"
    state_file.write_text(json.dumps({"height": "7", "round": 0, "step": 3}))   # as if it had signed height 7
    asked = CliRunner().invoke(main, ["--home", str(home), "unsafe-reset-all"], env=ENV)
    assert asked.exit_code == 1 and "pass --yes" in asked.output and db_path(home, load_settings(home)).exists()
    done = json.loads(gradchain(home, "unsafe-reset-all", "--yes"))
    assert done["removed"] == [str(db_path(home, load_settings(home)))]
    assert not db_path(home, load_settings(home)).exists()
    assert json.loads(state_file.read_text())["height"] == "0"
    assert all(p.read_bytes() == b for p, b in keys.items())                  # config, genesis, keys kept
    refused = CliRunner().invoke(main, ["--home", str(home), "export"], env=ENV)
    assert "committed no block yet" in refused.output                        # the state is gone
