"""CometBFT's evidence reaches the state machine: RequestFinalizeBlock.misbehavior -> BlockContext."""
from abci_app import convert
from abci_app.proto.tendermint.abci import types_pb2 as abci


def test_duplicate_vote_evidence_converted():
    req = abci.RequestFinalizeBlock(height=12, proposer_address=b"\x01" * 20)
    req.misbehavior.add(type=abci.DUPLICATE_VOTE, validator=abci.Validator(address=b"\xaa" * 20, power=10),
                        height=11, total_voting_power=40)
    req.misbehavior.add(type=abci.LIGHT_CLIENT_ATTACK, validator=abci.Validator(address=b"\xbb" * 20, power=10),
                        height=9, total_voting_power=40)
    ctx = convert.block_context(req, "net-1")
    assert [(m.kind, m.validator_address, m.height) for m in ctx.misbehavior] == [
        ("duplicate_vote", b"\xaa" * 20, 11), ("light_client_attack", b"\xbb" * 20, 9)]
    assert ctx.height == 12 and ctx.chain_id == "net-1"
