"""MsgSubmitUpdate as a third party builds it: protoc's bytes from proto/ equal the chain's canonical bytes."""

import pytest

from chain.messages import Msg
from chain.tx.envelope import TxBody
from chain.rounds.messages import MsgSubmitUpdate

pytest.importorskip("grpc_tools")


@pytest.fixture(scope="module")
def pb(tx_pb):
    return tx_pb


def test_protoc_builds_identical_submit_update(pb):
    msg = MsgSubmitUpdate(model_id=3, round=7, parent_version=1, envelope=b"\x08\x01sealed")
    ours = TxBody(chain_id="c", sequence=2, messages=(Msg.wrap(msg), Msg.wrap(MsgSubmitUpdate(model_id=1,
                                                                                              envelope=b"e"))))
    theirs = pb.TxBody(chain_id="c", sequence=2, messages=[
        pb.Msg(submit_update=pb.MsgSubmitUpdate(model_id=3, round=7, parent_version=1, envelope=b"\x08\x01sealed")),
        pb.Msg(submit_update=pb.MsgSubmitUpdate(model_id=1, envelope=b"e"))])
    assert theirs.SerializeToString(deterministic=True) == ours.encode()
    assert TxBody.decode(ours.encode()) == ours


def test_validate_basic():
    from chain.registry.errors import UnknownModel
    from chain.sealing.errors import MalformedEnvelope
    with pytest.raises(UnknownModel):
        MsgSubmitUpdate(model_id=0, envelope=b"e").validate_basic()
    with pytest.raises(MalformedEnvelope):
        MsgSubmitUpdate(model_id=1).validate_basic()
