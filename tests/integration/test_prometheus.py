"""A real node with metrics on (init_node(prometheus=True), what `gradchain init` does): after a transfer
both Prometheus endpoints answer over HTTP, the app's (ports.metrics) and CometBFT's (ports.prometheus),
and app.log holds the block's line (docs/operations.md)."""
import json

import httpx
import pytest
import tomlkit
from prometheus_client.parser import text_string_to_metric_families

from abci_app.node import init_node
from abci_app.settings import app_log_path, cometbft_home, load_settings
from client import Client
from client.wallet import Wallet
from nodeutil import free_node_ports, running_node, wait_for_height
from test_single_node import CHAIN_ID, FAUCET, app_state

pytestmark = pytest.mark.integration


def scrape(port: int) -> dict:
    """(name, sorted labels) -> value of every sample at http://127.0.0.1:port/metrics."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: dict, name: str, **labels) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def test_prometheus_and_app_metrics_endpoints_after_a_tx(tmp_path):
    ports = free_node_ports()
    home = tmp_path / "node"
    init_node(home, "n0", CHAIN_ID, app_state(FAUCET), ports=ports, timeout_commit="200ms", prometheus=True)
    config = tomlkit.parse((cometbft_home(home) / "config" / "config.toml").read_text())
    assert config["instrumentation"]["prometheus"] is True
    assert config["instrumentation"]["prometheus_listen_addr"] == f"127.0.0.1:{ports.prometheus}"
    assert load_settings(home).metrics_port == ports.metrics

    with running_node(home) as node, Client(node.rpc) as c:
        wait_for_height(node.rpc, 2, proc=node.proc)
        before = scrape(ports.metrics)
        receipt = c.send(FAUCET, Wallet.generate().address, {"ugrad": 1})
        wait_for_height(node.rpc, receipt.height + 1, proc=node.proc)
        app = scrape(ports.metrics)
        comet = scrape(ports.prometheus)

    assert value(app, "gradchain_blocks_total") > value(before, "gradchain_blocks_total") > 0
    assert value(app, "gradchain_block_height") >= receipt.height
    assert value(app, "gradchain_txs_total", codespace="", code="0") >= 1
    assert (value(before, "gradchain_txs_total", codespace="", code="0") or 0) == 0
    assert value(app, "gradchain_check_txs_total", codespace="", code="0", kind="new") >= 1
    assert value(app, "gradchain_finalize_block_seconds_count") > 0
    assert value(app, "gradchain_commit_seconds_count") > 0
    assert value(app, "gradchain_events_total", type="transfer") >= 1
    heights = [v for (name, _), v in comet.items() if name == "cometbft_consensus_height"]
    assert heights and max(heights) >= receipt.height

    lines = [json.loads(line) for line in app_log_path(home).read_text().splitlines()]
    assert any(line["msg"] == "metrics listening" for line in lines)
    block = [line for line in lines if line["msg"] == "finalized block" and line["height"] == receipt.height]
    assert block and block[0]["level"] == "info" and block[0]["txs"] == 1
    # empty blocks are at debug level: the node logs at info, so none of them reach app.log
    assert all(line["txs"] > 0 or line["events"] > 0 for line in lines if line["msg"] == "finalized block")
