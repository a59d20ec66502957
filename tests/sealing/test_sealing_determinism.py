"""Same inputs, same bytes and verdicts: on every node, in any order, under any hash seed.
(Purity of the package is checked for all of chain/ in tests/chain/test_purity.py.)"""
import json
import os
import random
import subprocess
import sys
from pathlib import Path

from chain.sealing.envelope import envelope_hash
from chain.sealing.open import open_sealed, reconstruct
from chain.sealing.valset import share_plan, validator_set_hash
from client.seal import seal
from sealingutil import CONTEXT, StreamRandom, release_all, validator_private_key, validators

ROOT = Path(__file__).resolve().parents[2]

# The test vector of docs/sealing.md section 9: inputs there, outputs here.
VECTOR_POWERS = [10, 20, 30, 40]
VECTOR_PLAINTEXT = b"gradchain sealing test vector v1"
VECTOR_SEED = b"gradchain sealing test vector"
VECTOR = {
    "valset_hash": "371346c20369a29151f979c6bab43398420ca6f49c495f0252eac7375bb1b881",
    "threshold": 70,
    "key": "2c6545d7d2606762946acded2872f4afe3f064d99001bdd0ac5d054b717f06e9",
    "key_commitment": "78f47da992f622af9661a4daad08fb0e6303bdf8c7fdc5522646efb7512c80ce",
    "envelope_hash": "c8b0d1b9bab44f2491d8e2ccddd999076f54b6acffd37959e96ae598ad884b30",
    "envelope_bytes": 3628,
}


def vector_envelope():
    return seal(VECTOR_PLAINTEXT, validators(VECTOR_POWERS), CONTEXT, random_bytes=StreamRandom(VECTOR_SEED))


def test_test_vector():
    envelope = vector_envelope()
    assert validator_set_hash(validators(VECTOR_POWERS)).hex() == VECTOR["valset_hash"]
    assert envelope.threshold == VECTOR["threshold"]
    assert envelope.key_commitment.hex() == VECTOR["key_commitment"]
    assert envelope_hash(envelope).hex() == VECTOR["envelope_hash"]
    assert len(envelope.encode()) == VECTOR["envelope_bytes"]
    assert reconstruct(envelope, release_all(envelope)).hex() == VECTOR["key"]
    assert open_sealed(envelope, release_all(envelope), CONTEXT) == VECTOR_PLAINTEXT


def test_test_vector_is_in_the_docs():
    doc = (ROOT / "docs" / "sealing.md").read_text()
    for value in VECTOR.values():
        assert str(value) in doc
    assert validator_private_key(0).hex() in doc and CONTEXT.hex() in doc


def test_input_order_never_matters():
    vals = validators([5, 1, 9, 3, 7])
    shuffled = list(vals)
    random.Random(4).shuffle(shuffled)
    assert share_plan(vals) == share_plan(shuffled)
    assert validator_set_hash(vals) == validator_set_hash(shuffled)
    a = seal(b"u", vals, CONTEXT, random_bytes=StreamRandom(b"s"))
    b = seal(b"u", shuffled, CONTEXT, random_bytes=StreamRandom(b"s"))
    assert a.encode() == b.encode()
    shares = release_all(a)
    orders = [dict(sorted(shares.items())), dict(sorted(shares.items(), reverse=True))]
    for _ in range(5):
        items = list(shares.items())
        random.Random(len(orders)).shuffle(items)
        orders.append(dict(items))
    assert len({reconstruct(a, released) for released in orders}) == 1


_CHILD = """
import json, sys
sys.path[:0] = [{root!r}, {tests!r}]
from chain.sealing.envelope import envelope_hash
from chain.sealing.open import reconstruct
from test_sealing_determinism import vector_envelope
from sealingutil import release_all
e = vector_envelope()
shares = release_all(e)
print(json.dumps([envelope_hash(e).hex(), reconstruct(e, {{i: shares[i] for i in set(shares)}}).hex()]))
"""


def test_same_bytes_under_any_hash_seed():
    code = _CHILD.format(root=str(ROOT), tests=str(ROOT / "tests" / "sealing"))
    results = set()
    for seed in ("0", "1", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        results.add(tuple(json.loads(out.stdout)))
    assert results == {(VECTOR["envelope_hash"], VECTOR["key"])}

