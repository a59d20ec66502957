"""The explorer's server (cli/explorer.py) without a node: its default port, loopback only, its routes, a
node failure answered as JSON, and a page with nothing fetched from the network. The page against a real
trained testnet, in Chromium: tests/integration/test_explorer.py."""
import json
import re
import threading

import httpx
import pytest
from click.testing import CliRunner

from cli.explorer import Explorer, default_port, make_server
from cli.explorer_page import PAGE
from cli.main import main


def test_explorer_default_port_is_the_nodes_base_plus_8():
    assert default_port("http://127.0.0.1:26657") == 26664
    assert default_port("http://127.0.0.1:27011") == 27018
    assert default_port("http://localhost") == 8080


def test_explorer_refuses_a_non_loopback_host():
    result = CliRunner().invoke(main, ["explorer", "--node", "http://127.0.0.1:1", "--host", "0.0.0.0", "--port", "0"])
    assert result.exit_code == 1
    assert "loopback only" in result.output


class FakeData:
    def overview(self):
        return {"status": {"height": 7}}

    def model(self, model_id):
        if model_id == 9:
            raise RuntimeError("node down")
        return {"id": model_id}


@pytest.fixture
def served():
    server = make_server(None, port=0, quiet=True, explorer=Explorer(data=FakeData()))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_explorer_routes(served):
    page = httpx.get(served + "/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert httpx.get(served + "/favicon.ico").status_code == 204
    assert httpx.get(served + "/api/overview").json() == {"status": {"height": 7}}
    assert httpx.get(served + "/api/model/3").json() == {"id": 3}
    failed = httpx.get(served + "/api/model/9")
    assert failed.status_code == 502 and "node down" in failed.json()["error"]
    assert httpx.get(served + "/api/model/x").status_code == 404
    assert httpx.get(served + "/nothing").status_code == 404


def test_explorer_page_loads_nothing_from_the_network():
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", PAGE)
    assert "fetch(\"/api/" in PAGE or "getJSON(\"/api/" in PAGE
    assert ".innerHTML" not in PAGE        # on-chain strings reach the DOM as text only
    json.dumps(PAGE)
