import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))


import importlib  # noqa: E402
import subprocess  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tx_pb(tmp_path_factory):
    """proto/gradchain/tx/v1/tx.proto compiled by protoc: what a third party in another language uses."""
    pytest.importorskip("grpc_tools")
    out = tmp_path_factory.mktemp("tx_pb")
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{ROOT / 'proto'}", f"--python_out={out}",
                    str(ROOT / "proto/gradchain/tx/v1/tx.proto")], check=True)
    sys.path.insert(0, str(out))
    try:
        return importlib.import_module("gradchain.tx.v1.tx_pb2")
    finally:
        sys.path.remove(str(out))


@pytest.fixture(autouse=True)
def genesis_round_trip_after_each_test():
    """Every in-process chain a test built must round-trip through genesis export/import at its end."""
    import chainutil
    chainutil.LIVE_CHAINS.clear()
    yield
    chains, chainutil.LIVE_CHAINS[:] = list(chainutil.LIVE_CHAINS), []
    for chain in chains:
        if chain.app.store.height and not getattr(chain, "skip_genesis_round_trip", False):
            chainutil.assert_genesis_round_trips(chain.app.store)
