"""Registry messages as a third party builds them: the schema in proto/, compiled by protoc, gives the
same bytes the chain decodes (the one canonical form)."""

import pytest

from chain.messages import Msg
from chain.tx.coins import Coin
from chain.tx.envelope import TxBody
from chain.registry.messages import MsgFundBounty, MsgRegisterModel, MsgUploadWeights
from chain.rounds.messages import MsgCloseModel, MsgRevealShard
from registryutil import curve

pytest.importorskip("grpc_tools")


@pytest.fixture(scope="module")
def pb(tx_pb):
    return tx_pb


def test_protoc_builds_identical_registry_messages(pb):
    register = MsgRegisterModel(spec=b"\x08\x01", weights_hash=b"\x01" * 32, weights_size=4840, shard_root=b"\x02" * 32,
                                shard_count=3, bounty=Coin.of("bridge/1/0x" + "ab" * 20, 100), bond=Coin.of("ugrad", 5),
                                round_blocks=5, reveal_blocks=3, min_improvement=0, deposit=Coin.of("ugrad", 1),
                                target_score=900_000, metric="accuracy",
                                reward_curve=curve((0, 0), (5000, 7000), (10_000, 10_000)), expiry_height=200)
    ours = TxBody(chain_id="c", sequence=1, messages=tuple(Msg.wrap(m) for m in (
        register, MsgUploadWeights(model_id=1, index=0, data=b"w"), MsgFundBounty(model_id=1, amount=Coin.of("ugrad", 9)),
        MsgRevealShard(model_id=1, round=2, shard=b"s", shard_index=0, proof=b"p"), MsgCloseModel(model_id=1))))
    theirs = pb.TxBody(chain_id="c", sequence=1, messages=[
        pb.Msg(register_model=pb.MsgRegisterModel(
            spec=b"\x08\x01", weights_hash=b"\x01" * 32, weights_size=4840, shard_root=b"\x02" * 32, shard_count=3,
            bounty=pb.Coin(denom="bridge/1/0x" + "ab" * 20, amount="100"), bond=pb.Coin(denom="ugrad", amount="5"),
            round_blocks=5, reveal_blocks=3, deposit=pb.Coin(denom="ugrad", amount="1"), target_score=900_000,
            metric="accuracy", reward_curve=[pb.CurvePoint(), pb.CurvePoint(progress_bps=5000, payout_bps=7000),
                                             pb.CurvePoint(progress_bps=10_000, payout_bps=10_000)],
            expiry_height=200)),
        pb.Msg(upload_weights=pb.MsgUploadWeights(model_id=1, data=b"w")),
        pb.Msg(fund_bounty=pb.MsgFundBounty(model_id=1, amount=pb.Coin(denom="ugrad", amount="9"))),
        pb.Msg(reveal_shard=pb.MsgRevealShard(model_id=1, round=2, shard=b"s", proof=b"p")),
        pb.Msg(close_model=pb.MsgCloseModel(model_id=1))])
    assert theirs.SerializeToString(deterministic=True) == ours.encode()
    assert TxBody.decode(ours.encode()) == ours
