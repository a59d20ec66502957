"""Bounded releases (issue 13 finding 1): a backlog of pending shares larger than what one extension may
carry used to make every validator build the same over-limit extension at every height, which every peer
refused: the chain stopped for good. Now each extension carries at most MAX_RELEASED_PER_TX shares and
MAX_RELEASE_BYTES bytes, oldest first, and the rest follow at the next heights."""
import pytest

from roundsutil import RoundsChain, delta, submit_msg
from test_release import next_block, node_keys, setup, votes, window  # noqa: F401 (setup: the model fixture)

from chain.rounds import release
from chainutil import BOB, CAROL
from registryutil import activate, code, u64

torch = pytest.importorskip("torch")


def _shares(ext: bytes) -> int:
    return len(release.decode_release(ext).shares) if ext else 0


def test_share_cap_backlog_is_released_over_several_heights_and_every_extension_is_valid(setup, monkeypatch):
    """The cap lowered to two submissions' worth of one validator's shares, so that 4 submissions are a
    backlog: every extension stays within the cap and is accepted, and all four updates open. The release
    deadline leaves room for the backlog here (reveal_blocks 8); see docs/rounds.md for what happens
    when it does not."""
    model, shards = setup
    chain = RoundsChain()
    model_id = activate(chain, model, shards, reveal_blocks=8)
    for i, who in enumerate((BOB, CAROL, BOB, CAROL)):
        assert code(chain.run(who, submit_msg(chain, who, model_id, 0, delta(model, bump=i)))[0]) == ("", 0)
    _, end = window(chain, model_id)
    chain.until(end - 1)
    per_submission = _shares(chain.app.extend_vote(chain.height + 1, node_keys()[0][1])) // 4
    cap = 2 * per_submission
    monkeypatch.setattr(release, "MAX_RELEASED_PER_TX", cap)
    heights = 0
    while True:
        exts = votes(chain, chain.height + 1)      # `votes` asserts VerifyVoteExtension accepts each one
        if not any(ext for _, ext in exts):
            break
        assert all(_shares(ext) <= cap for _, ext in exts)
        _, txs = next_block(chain, exts)
        assert _shares(txs[0][len(release.RELEASE_PREFIX):]) <= cap
        heights += 1
        assert heights < 50
    statuses = [s["status"] for s in chain.query_json("/rounds/round", u64(model_id, 0))["submission_list"]]
    assert statuses == ["opened"] * 4
    assert heights > 1   # the backlog really was spread over heights


def test_extension_size_over_the_byte_cap_is_refused_before_decoding(setup):
    """An extension longer than MAX_RELEASE_BYTES is refused without being decoded (it is not even valid
    protobuf here), by VerifyVoteExtension, by the proposer and by ProcessProposal."""
    model, shards = setup
    chain = RoundsChain()
    activate(chain, model, shards)
    address = node_keys()[0][0]
    huge = b"\xff" * (release.MAX_RELEASE_BYTES + 1)
    with pytest.raises(Exception, match="at most"):
        release.decode_release(huge)
    assert not chain.app.verify_vote_extension(chain.height + 1, address, huge)
    assert chain.app.prepare_proposal(chain.height + 1, [], [(address, huge)]) == []
    assert not chain.app.process_proposal(chain.height + 1, [release.RELEASE_PREFIX + huge])
