"""The same blocks executed in separate processes with different hash seeds and thread settings
give the same app hash at every height."""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import json, sys
sys.path[:0] = [sys.argv[1], sys.argv[1] + "/tests"]
from chainutil import ALICE, BOB, CAROL, Chain, send_tx
chain = Chain()
hashes = []
seq = 0
for height in range(6):
    txs = []
    for i in range(5):
        # several denoms, failing messages and junk, so sets and dicts of many shapes are exercised
        txs.append(send_tx(ALICE, [BOB, CAROL][i % 2], {"ugrad": 10 + i, "stake": 1 + (i % 3)}, seq)); seq += 1
    txs.append(send_tx(BOB, CAROL, {"stake": 10**6}, height))   # fails in its message: fee kept
    txs.append(b"\x0a\x02junk")
    hashes.append(chain.block(txs).app_hash.hex())
print(json.dumps(hashes))
"""


def run(env_overrides: dict) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHASHSEED",)}
    env.update(env_overrides)
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT)], env=env, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


def test_same_app_hashes_across_processes():
    a = run({"PYTHONHASHSEED": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
             "OPENBLAS_CORETYPE": "Haswell"})
    b = run({"PYTHONHASHSEED": "4242", "OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2",
             "OPENBLAS_CORETYPE": "Sandybridge"})
    assert len(a) == 6 and len(set(a)) == 6  # every block changed the state
    assert a == b
