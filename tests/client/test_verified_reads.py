"""client.verified: records, weights and the sealing set proven against light-verified headers, on an
in-process chain whose RPC serves headers signed by its validators' consensus keys (registryutil). The real
node version, through a tampering proxy, is tests/integration/test_tamper.py (`pytest -k tamper`)."""
import base64
import sys
from pathlib import Path

import pytest

_TESTS = Path(__file__).resolve().parent.parent
if str(_TESTS / "rounds") not in sys.path:
    sys.path.insert(0, str(_TESTS / "rounds"))

from roundsutil import RoundsChain, submit_msg  # noqa: E402

from chain.rounds import keys as rnd_keys  # noqa: E402
from chainutil import BOB  # noqa: E402
from client.errors import ProofInvalid, SealingSetInvalid  # noqa: E402
from registryutil import activate, code, in_process_client, tiny_model_and_shards, u64  # noqa: E402

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def setup():
    return tiny_model_and_shards()


def _chain(setup):
    model, shards = setup
    chain = RoundsChain()
    model_id = activate(chain, model, shards, round_blocks=20)
    return chain, model_id, model


def test_light_client_verified_records_weights_and_round(setup):
    chain, model_id, model = _chain(setup)
    result, _ = chain.run(BOB, submit_msg(chain, BOB, model_id, 0, b"step"))
    assert code(result) == ("", 0), result.log
    client = in_process_client(chain)
    record = client.verified.model(model_id)
    assert record["id"] == model_id and record["head_version"] == 0
    assert client.verified.weights(model_id, 0) == model.weights_bytes
    assert client.verified.round(model_id, 0)["submissions"] == 1
    seq = client.query_json("/rounds/round", u64(model_id, 0))["submission_list"][0]["seq"]
    assert client.verified.submission(model_id, 0, seq)["submitter"] == BOB.address_bytes.hex()
    assert client.verified.round(model_id, 7) is None                 # proven absent
    snapshot = client.verified.sealing_set(model_id, 0)
    assert snapshot.snapshotted and len(snapshot.members) == 4
    fresh = client.verified.sealing_set(model_id, 1)                 # no submission yet: today's validators
    assert not fresh.snapshotted and fresh.valset_hash == snapshot.valset_hash
    assert client.light.trusted, "nothing was verified through the light client"


def test_light_client_refuses_tampered_weights_and_round_record(setup):
    chain, model_id, _ = _chain(setup)
    result, _ = chain.run(BOB, submit_msg(chain, BOB, model_id, 0, b"step"))
    assert code(result) == ("", 0), result.log
    client = in_process_client(chain)
    honest = client.rpc.abci_query

    def tampered_weights(path, data, height=0, prove=False):
        response = honest(path, data, height, prove)
        if path == "/registry/weights":
            raw = bytearray(base64.b64decode(response["value"]))
            raw[-1] ^= 1
            response["value"] = base64.b64encode(bytes(raw)).decode()
        return response

    client.rpc.abci_query = tampered_weights
    with pytest.raises(ProofInvalid, match="weights"):
        client.verified.weights(model_id, 0)

    round_key = rnd_keys.round_key(model_id, 0)

    def tampered_round(path, data, height=0, prove=False):
        response = honest(path, data, height, prove)
        if path == "/store" and data == round_key:
            raw = bytearray(base64.b64decode(response["value"]))
            raw[-1] ^= 1
            response["value"] = base64.b64encode(bytes(raw)).decode()
        return response

    client.rpc.abci_query = tampered_round
    with pytest.raises(ProofInvalid):
        client.verified.round(model_id, 0)
    with pytest.raises(SealingSetInvalid):
        client.verified.sealing_set(model_id, 0)
