"""The app's metrics and event log through the ABCI server's handlers, with a real Application in process
(abci_app/metrics.py, abci_app/eventlog.py, docs/operations.md); and the node's settings for them."""
from __future__ import annotations

import logging

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from abci_app import eventlog
from abci_app.metrics import Metrics, parse_coin
from abci_app.ports import free_ports
from abci_app.proto.tendermint.abci import types_pb2 as abci
from abci_app.server import AbciServer
from abci_app.settings import NodeSettings, SettingsError, load_settings, save_settings
from chain.results import BlockResult, Event, TxResult
from chainutil import ALICE, BOB, CHAIN_ID, Chain, send_tx


def finalize(server, height, txs=()):
    req = abci.RequestFinalizeBlock(height=height, txs=list(txs), proposer_address=bytes(20), hash=bytes(32))
    req.time.seconds = 1_700_000_000 + height
    response = server._finalize_block(req)
    server._commit(abci.RequestCommit())
    return response


def test_a_tx_and_an_empty_block_move_the_counters_and_log_at_their_levels(caplog):
    server = AbciServer(Chain().app, CHAIN_ID)
    tx = send_tx(ALICE, BOB, {"ugrad": 5}, sequence=0)
    bad = send_tx(ALICE, BOB, {"ugrad": 5}, sequence=7)
    caplog.set_level(logging.DEBUG, logger="gradchain")
    assert server._check_tx(abci.RequestCheckTx(tx=tx)).code == 0
    assert server._check_tx(abci.RequestCheckTx(tx=bad)).code != 0
    assert finalize(server, 2, [tx]).tx_results[0].code == 0
    finalize(server, 3)

    value = server.metrics.registry.get_sample_value
    assert value("gradchain_blocks_total") == 2 and value("gradchain_block_height") == 3
    assert value("gradchain_txs_total", {"codespace": "", "code": "0"}) == 1
    assert value("gradchain_check_txs_total", {"codespace": "", "code": "0", "kind": "new"}) == 1
    assert sum(s.value for f in server.metrics.registry.collect() for s in f.samples
               if s.name == "gradchain_check_txs_total" and s.labels["code"] != "0") == 1
    for histogram in ("finalize_block", "commit", "check_tx"):
        assert value(f"gradchain_{histogram}_seconds_count") == 2
    assert value("gradchain_events_total", {"type": "transfer"}) == 1

    finalized = {r.height: r for r in caplog.records if r.getMessage() == "finalized block"}
    assert finalized[2].levelno == logging.INFO and finalized[2].txs == 1 and finalized[2].events >= 1
    assert finalized[3].levelno == logging.DEBUG     # an empty block: debug, so an idle chain stays quiet
    transfer = [r for r in caplog.records if r.name == "gradchain.events" and r.event == "transfer"]
    assert transfer[0].levelno == logging.DEBUG and transfer[0].height == 2 and transfer[0].tx == 0


def test_domain_events_log_one_line_each_with_their_attributes(caplog):
    caplog.set_level(logging.DEBUG, logger="gradchain.events")
    result = BlockResult(tx_results=(TxResult(events=(
        Event("bridge_claim", (("validator", "grad1v"), ("event_nonce", "4"))),
        Event("bridge_attested", (("event_nonce", "4"), ("claim_hash", "ab"))),)),), app_hash=b"", events=(
        Event("slash", (("operator", "grad1o"), ("reason", "duplicate_vote"), ("amount", "50ugrad"))),
        Event("round_void", (("model_id", "1"), ("round", "2"))),
        Event("cohort_formed", (("model_id", "1"), ("round", "3"), ("cohort", "0"))),
        Event("cohort_unmasked", (("model_id", "1"), ("round", "3"), ("cohort", "0"))),
        Event("update_invalid", (("seq", "1"), ("reason", "sealing/3"), ("forfeited", "100ugrad"))),
        Event("odd", (("name", "x"), ("level", "y"), ("msg", "z"))),))
    eventlog.log_block(9, result)
    lines = [(r.getMessage(), r.levelname, r.event) for r in caplog.records]
    assert lines == [("bridge claim", "DEBUG", "bridge_claim"), ("bridge claim attested", "INFO", "bridge_attested"),
                     ("slash", "WARNING", "slash"), ("round closed", "INFO", "round_void"),
                     ("cohort formed", "INFO", "cohort_formed"), ("cohort unmasked", "INFO", "cohort_unmasked"),
                     ("update invalid", "INFO", "update_invalid"), ("odd", "DEBUG", "odd")]
    records = caplog.records
    assert records[1].tx == 0 and not hasattr(records[2], "tx") and records[2].height == 9
    assert records[3].outcome == "void" and records[6].forfeited == "100ugrad"
    # attributes named like a log record's own fields are renamed rather than clobbering them
    assert (records[7].attr_name, records[7].attr_level, records[7].attr_msg) == ("x", "y", "z")

    metrics = Metrics()
    metrics.observe_block(9, result, 0.5)
    value = metrics.registry.get_sample_value
    assert value("gradchain_bridge_claims_total", {"result": "vote"}) == 1
    assert value("gradchain_bridge_claims_total", {"result": "attested"}) == 1
    assert value("gradchain_slashes_total", {"reason": "duplicate_vote"}) == 1
    assert value("gradchain_slashed_amount_total", {"denom": "ugrad"}) == 50
    assert value("gradchain_rounds_closed_total", {"outcome": "void"}) == 1
    assert value("gradchain_cohorts_total", {"state": "unmasked"}) == 1
    assert value("gradchain_updates_invalid_total", {"reason": "sealing/3"}) == 1
    assert value("gradchain_forfeited_amount_total", {"denom": "ugrad"}) == 100


def test_a_failing_metric_does_not_stop_the_node(caplog):
    class Broken(Metrics):
        def observe_block(self, *args):
            raise ValueError("bug in a metric")

    server = AbciServer(Chain().app, CHAIN_ID, metrics=Broken())
    assert finalize(server, 2).app_hash          # the block is still answered
    assert any(r.getMessage() == "metrics or event log failed" for r in caplog.records)


def test_parse_coin():
    assert parse_coin("123ugrad") == (123, "ugrad")
    assert parse_coin("7bridge/31337/0xab") == (7, "bridge/31337/0xab")
    assert parse_coin("") is None and parse_coin("ugrad") is None and parse_coin("1a,2b") is None


def test_metrics_endpoint_serves_the_registry_on_loopback():
    metrics = Metrics()
    metrics.blocks.inc(3)
    port = free_ports(1)[0]
    metrics.serve(port)
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    finally:
        metrics.stop()
    samples = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}
    assert samples["gradchain_blocks_total"] == 3
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)   # stopped: the port is closed


def test_metrics_port_setting(tmp_path):
    save_settings(tmp_path, NodeSettings(metrics_port=26661))
    assert load_settings(tmp_path).metrics_port == 26661
    (tmp_path / "gradchain.toml").write_text("metrics_port = 70000\n")
    with pytest.raises(SettingsError, match="metrics_port"):
        load_settings(tmp_path)
    (tmp_path / "gradchain.toml").write_text('abci_port = 26658\n')   # a home from before: metrics off
    assert load_settings(tmp_path).metrics_port == 0


def test_testnet_init_turns_on_both_metrics_endpoints(tmp_path):
    """`gradchain testnet init`: node i's CometBFT metrics on base+10i+4, the app's on base+10i+5."""
    import tomllib

    import tomlkit

    from abci_app.settings import cometbft_home
    from abci_app.testnet import init_testnet
    from client.wallet import Wallet
    from nodeutil import ROOT

    preset = tomllib.loads((ROOT / "config/local.toml").read_text())
    operators = [Wallet.from_seed(bytes([0x71 + i]) * 32).address_bytes for i in range(2)]
    manifest = init_testnet(tmp_path, 2, "metrics-1", preset, operators, Wallet.from_seed(b"\x7f" * 32).address_bytes,
                            port_base=30000)
    for i, node in enumerate(manifest["nodes"]):
        assert (node["prometheus"], node["metrics"]) == (30000 + 10 * i + 4, 30000 + 10 * i + 5)
        config = tomlkit.parse((cometbft_home(tmp_path / node["name"]) / "config" / "config.toml").read_text())
        assert config["instrumentation"]["prometheus"] is True
        assert config["instrumentation"]["prometheus_listen_addr"] == f"127.0.0.1:{node['prometheus']}"
        assert load_settings(tmp_path / node["name"]).metrics_port == node["metrics"]
