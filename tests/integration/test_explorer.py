"""`gradchain explorer` against a real 2-validator CometBFT v0.38.25 testnet that trained a model (the demo's
flow, two rounds), opened in a real headless Chromium (Debian's `chromium`, driven by Playwright through
executable_path; scripts/setup.sh installs both). The page loads with no console error and shows the model,
its rounds, the leaderboard's earnings, the version tree and the accuracy plot, every part verified; a
screenshot is kept in artifacts/explorer.png. Through a node that lies about earnings, the explorer says the
model is not verified instead of showing the lie as checked."""
from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import httpx
import pytest

from abci_app.testnet import init_testnet, start_testnet, stop_testnet
from chain.registry.records import ModelRecord
from client.wallet import Wallet
from nodeutil import ROOT, free_port_base, free_ports, wait_for_height
from tamperproxy import TamperProxy

pytestmark = pytest.mark.integration
pytest.importorskip("torch")
sys.path.insert(0, str(ROOT / "scripts"))
import demo_training  # noqa: E402

OPERATORS = [Wallet.from_seed(bytes([0x50 + i]) * 32) for i in range(2)]
FAUCET = Wallet.from_seed(b"\x5f" * 32)
ARTIFACTS = Path(os.environ.get("GRADCHAIN_ARTIFACTS", ROOT / "artifacts"))


def chromium_path() -> str:
    """Debian's chromium; installed here with apt-get if missing and possible, else the test skips."""
    found = shutil.which("chromium") or (os.path.exists("/usr/bin/chromium") and "/usr/bin/chromium")
    if not found and shutil.which("apt-get") and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], env=env, capture_output=True, timeout=900)
        found = shutil.which("chromium") or (os.path.exists("/usr/bin/chromium") and "/usr/bin/chromium")
    if not found:
        pytest.skip("Debian's chromium is not installed and could not be installed (scripts/setup.sh installs it)")
    return found


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("explorer")
    preset = tomllib.loads((ROOT / "config/local.toml").read_text())
    manifest = init_testnet(root, 2, "explorer-1", preset, [w.address_bytes for w in OPERATORS],
                            FAUCET.address_bytes, port_base=free_port_base(30), timeout_commit="300ms")
    url = f"http://127.0.0.1:{manifest['nodes'][0]['rpc']}"
    start_testnet(root)
    try:
        wait_for_height(url, 2, timeout=90)
        result = demo_training.run(url, FAUCET, rounds=2, quiet=True)
        yield url, result
    finally:
        stop_testnet(root)


@contextlib.contextmanager
def explorer(node_url: str):
    """`gradchain explorer --node URL --port P` as a child process, until it answers."""
    port, = free_ports(1)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "cli", "explorer", "--node", node_url, "--port", str(port), "--quiet"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(base + "/favicon.ico", timeout=2)
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the explorer did not start: {proc.stdout.read() if proc.poll() is not None else ''}")
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_explorer_page_in_headless_chromium_shows_the_trained_model(trained):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra (scripts/setup.sh)")
    browser_path = chromium_path()
    url, result = trained
    model_id, board = result["model_id"], result["leaderboard"]
    with explorer(url) as base, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors = []
            page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
            page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
            page.goto(base + "/")
            page.wait_for_selector("body[data-ready='1']", timeout=90_000)
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            shot = ARTIFACTS / "explorer.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"\nexplorer screenshot: {shot}")

            assert errors == []
            section = page.locator(f"#model-{model_id}")
            assert section.count() == 1
            assert f"Model {model_id}" in section.locator("h2").first.inner_text()
            # status and validators, verified against light-verified headers
            assert "explorer-1" in page.inner_text("#status")
            assert page.locator("#validators tbody tr").count() == 2
            assert page.locator(".badge.bad").count() == 0
            assert page.locator(".badge.verified").count() >= 8
            # terms as percentages, not raw score units
            terms = section.inner_text()
            assert "95.00%" in terms and "+1.00 pp" in terms and "uusdc" in terms
            # each round, with its submissions and outcomes
            for entry in result["history"]:
                box = page.locator(f"#model-{model_id}-round-{entry['round']}")
                assert box.count() == 1
                assert box.locator("table.submissions tbody tr").count() == len(entry["info"]["submission_list"])
                assert "accepted" in box.inner_text() and "harmful" in box.inner_text()   # t1 wins, t4 poisons
            # the leaderboard's earnings, in the chain's order
            rows = section.locator("table.leaderboard tbody tr")
            assert rows.count() == len(board["trainers"]) == 4
            for i, trainer in enumerate(board["trainers"]):
                row = rows.nth(i)
                assert row.locator("span.mono").get_attribute("title") == trainer["trainer"]
                assert f"{trainer['earned']} uusdc" in row.inner_text()
            assert int(board["trainers"][0]["earned"]) > 0
            # the version tree (one node per version, the head filled) and the head's accuracy per round
            versions = section.locator("svg.version-tree g.version")
            assert versions.count() == len(json.loads(httpx.get(f"{base}/api/model/{model_id}").text)["versions"]) >= 2
            assert section.locator("svg.version-tree circle.head").count() == 1
            assert section.locator("svg.accuracy-plot circle.point").count() == len(result["history"])
            assert section.locator("svg.accuracy-plot polyline.after").count() == 1
            assert shot.stat().st_size > 10_000
        finally:
            browser.close()


def test_explorer_api_agrees_with_the_sdk(trained):
    url, result = trained
    model_id = result["model_id"]
    with explorer(url) as base:
        overview = httpx.get(base + "/api/overview", timeout=60).json()
        data = httpx.get(f"{base}/api/model/{model_id}", timeout=60).json()
    assert overview["status"]["verified"]["ok"] and overview["validators"]["verified"]["ok"]
    assert [m["id"] for m in overview["models"]["models"]] == [model_id]
    assert data["verified"]["ok"], data["verified"]
    board = result["leaderboard"]
    assert [(t["trainer"], t["earned"]) for t in data["leaderboard"]] == [(t["trainer"], t["earned"]) for t in board["trainers"]]
    assert [r["round"] for r in data["rounds"]] == [h["round"] for h in result["history"]]
    assert data["model"]["bounty_left"] == str(demo_training.BOUNTY - int(data["model"]["paid"]))
    for point in data["accuracy"]:
        assert 0 < point["after"] <= 1 and (point["before"] is None or 0 < point["before"] <= 1)


def test_explorer_flags_a_node_that_lies_about_earnings(trained):
    url, result = trained
    model_id = result["model_id"]

    def lie(method, params, reply):
        if method == "abci_query" and params.get("path") == "/rounds/leaderboard":
            board = json.loads(base64.b64decode(reply["response"]["value"]))
            board["trainers"][-1]["earned"] = "999999"
            reply["response"]["value"] = base64.b64encode(json.dumps(board).encode()).decode()
        return reply

    with TamperProxy(url) as proxy, explorer(proxy.url) as base:
        proxy.tamper = lie
        data = httpx.get(f"{base}/api/model/{model_id}", timeout=120).json()
    assert data["verified"]["ok"] is False
    assert "Mismatch" in data["error"] and "leaderboard" in data["error"]
    assert "999999" not in json.dumps(data)


def test_explorer_refuses_a_forged_model_record(trained):
    """A node that changes the proven model record itself (its bounty left) fails the Merkle proof: the
    explorer shows the model as not verified and never the forged number."""
    url, result = trained
    model_id = result["model_id"]
    model_key = base64.b64encode(b"reg/m/" + model_id.to_bytes(8, "big")).decode()

    def forge(method, params, reply):
        response = reply.get("response", {}) if method == "abci_query" else {}
        if params.get("path") == "/store" and response.get("key") == model_key and response.get("value"):
            record = ModelRecord.decode(base64.b64decode(response["value"]))
            response["value"] = base64.b64encode(ModelRecord({**record, "escrow": "123456789"}).encode()).decode()
        return reply

    with TamperProxy(url) as proxy, explorer(proxy.url) as base:
        proxy.tamper = forge
        data = httpx.get(f"{base}/api/model/{model_id}", timeout=120).json()
        models = httpx.get(f"{base}/api/overview", timeout=120).json()["models"]
    assert data["verified"]["ok"] is False and "ProofInvalid" in data["error"], data
    assert models["verified"]["ok"] is False
    assert "123456789" not in json.dumps(data)
