"""The rounds CLI (cli/rounds.py) against an in-process chain: two trainers submit sealed deltas with
`tx submit-update`, the validators release, the owner reveals with `tx reveal`, the round closes; then
`query round | submission | leaderboard | earnings | open-models` answer exactly what the chain recorded,
and mistakes print the chain's code (or the code the chain would give) and exit non-zero."""
import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

_TESTS = Path(__file__).resolve().parent.parent
if str(_TESTS / "rounds") not in sys.path:
    sys.path.insert(0, str(_TESTS / "rounds"))

from roundsutil import RoundsChain, submit_msg  # noqa: E402
from roundsutil import delta as zero_delta  # noqa: E402
from test_registry_chain import reveal_msg  # noqa: E402
from test_release import next_block, votes, window  # noqa: E402

import client.client  # noqa: E402
from chain.bank import keeper as bank  # noqa: E402
from chain.tx.coins import Coin  # noqa: E402
from chainutil import ALICE, BOB, CAROL  # noqa: E402
from cli.main import main  # noqa: E402
from cliutil import json_error_text  # noqa: E402
from client.rounds import load_shards, save_shards  # noqa: E402
from client.trainer import delta_from_torch  # noqa: E402
from client.wallet import Keyring  # noqa: E402
from registryutil import (InProcessRPC, VOUCHER, activate, digits, register_msg, tiny_model, train_digits,  # noqa: E402
                          u64, validation)

torch = pytest.importorskip("torch")
PASSWORD = "test-password"
BOUNTY = 100_000



class Cli:
    """`gradchain --home HOME -o json ...` through CliRunner, every Client talking to `chain` in process."""

    def __init__(self, chain, home: Path):
        self.chain, self.home = chain, home
        self.original = client.client.Client

    def client(self, url="", timeout=30.0, **anchor):
        c = self.original("http://in-process")
        c.rpc.close()
        c.rpc = InProcessRPC(self.chain)
        return c

    def __call__(self, *args, output="json", ok=True):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(client.client, "Client", self.client)
            result = CliRunner().invoke(main, ["--home", str(self.home), "-o", output, *map(str, args)],
                                        env={"GRADCHAIN_PASSWORD": PASSWORD})
        if ok:
            assert result.exit_code == 0, result.output
            return json.loads(result.output) if output == "json" else result.output
        assert result.exit_code != 0 and "Traceback" not in result.output, result.output
        return json_error_text(result.output) if output == "json" else result.output


@pytest.fixture(scope="module")
def played(tmp_path_factory):
    """Round 0 of a digits model played through the CLI: BOB an honest update, CAROL a poisoned one."""
    net, model = tiny_model()
    X_val, y_val, shards = validation(model, samples=400)
    X, y = digits()
    X, y = X[:-400], y[:-400]
    home = tmp_path_factory.mktemp("home")
    keys = Keyring(home / "keyring")
    for name, wallet in (("alice", ALICE), ("bob", BOB), ("carol", CAROL)):
        keys.add(name, PASSWORD, wallet)
    (home / "honest.bin").write_bytes(delta_from_torch(model, train_digits(net, X, y)))
    (home / "poison.bin").write_bytes(delta_from_torch(model, train_digits(net, X, (y + 1) % 10)))
    (home / "junk.bin").write_bytes(b"not a delta")
    save_shards(shards, home / "shards.json")

    chain = RoundsChain()
    model_id = activate(chain, model, shards, bounty=Coin.of(VOUCHER, BOUNTY), round_blocks=20, reveal_blocks=10)
    cli = Cli(chain, home)
    submitted = [cli("tx", "submit-update", model_id, "--update", home / f"{kind}.bin", "--from", who)
                 for kind, who in (("honest", "bob"), ("poison", "carol"))]
    _, end = window(chain, model_id, 0)
    chain.until(end - 1)
    next_block(chain, votes(chain, end))          # the validators release; both updates open
    revealed = cli("tx", "reveal", model_id, 0, "--shards", home / "shards.json", "--index", 1, "--from", "alice")
    for _ in range(80):
        if "closed_height" in chain.query_json("/rounds/round", u64(model_id, 0)):
            break
        chain.block([])
    else:
        raise AssertionError("round 0 did not close")
    # round 1 (the owner's zero delta on the new head) closes on shard 2: it confirms round 0's gain and pays
    assert chain.run(ALICE, submit_msg(chain, ALICE, model_id, 1, zero_delta(model), parent=1))[0].code == 0
    _, end = window(chain, model_id, 1)
    chain.until(end - 1)
    next_block(chain, votes(chain, end))
    assert chain.run(ALICE, reveal_msg(model_id, 1, shards, 2))[0].code == 0
    for _ in range(80):
        if "closed_height" in chain.query_json("/rounds/round", u64(model_id, 1)):
            break
        chain.block([])
    else:
        raise AssertionError("round 1 did not close")
    # a second model, still uploading its weights: not open
    result, _ = chain.run(ALICE, register_msg(model, shards, bounty=Coin.of("ugrad", 7)))
    assert result.code == 0, result.log
    return cli, chain, model_id, submitted, revealed


def test_submit_and_reveal_commands_record_what_the_chain_holds(played):
    cli, chain, model_id, submitted, revealed = played
    for seq, (sub, who) in enumerate(zip(submitted, (BOB, CAROL))):
        record = chain.query_json("/rounds/submission", u64(model_id, 0, seq))
        assert sub["height"] == record["height"] > 0 and len(sub["tx_hash"]) == 64
        assert (sub["model_id"], sub["round"], sub["seq"], sub["parent"]) == (model_id, 0, seq, 0)
        assert sub["submitter"] == record["submitter"] == who.address
        assert sub["envelope_hash"] == record["envelope_hash"] and sub["deposit"] == "100ugrad"
    assert (revealed["round"], revealed["shard_index"]) == (0, 1)
    assert chain.query_json("/registry/model", u64(model_id))["rounds"][0]["shard_index"] == 1


def test_round_and_submission_queries_equal_the_chain_records(played):
    cli, chain, model_id, _, _ = played
    info = cli("query", "round", model_id, 0)
    assert info == chain.query_json("/rounds/round", u64(model_id, 0))
    assert info["new_version"] == 1 and info["winners"] == [0] and int(info["paid"]) > 0
    for seq, outcome in ((0, "accepted"), (1, "harmful")):
        record = cli("query", "submission", model_id, 0, seq)
        assert record == chain.query_json("/rounds/submission", u64(model_id, 0, seq))
        assert (record["status"], record["outcome"]) == ("settled", outcome)
    text = cli("query", "round", model_id, 0, output="text")
    assert f"new head v1 from update(s) 0, paid {info['paid']}{VOUCHER}" in text
    assert BOB.address in text and "accepted" in text and "harmful" in text
    text = cli("query", "submission", model_id, 0, 1, output="text")
    assert "outcome harmful" in text and "deposit 100ugrad forfeited" in text


def test_leaderboard_ranks_trainers_and_shows_the_version_tree(played):
    cli, chain, model_id, _, _ = played
    board = cli("query", "leaderboard", model_id)
    chain_board = chain.query_json("/rounds/leaderboard", u64(model_id))
    assert {k: v for k, v in board.items() if k not in ("versions", "deposit_denom")} == chain_board
    assert board["versions"] == chain.query_json("/registry/versions", u64(model_id))["versions"]
    assert board["deposit_denom"] == "ugrad"
    bob, carol = [t for t in board["trainers"] if t["trainer"] != ALICE.address]   # ALICE confirmed round 0
    paid = chain.query_json("/rounds/round", u64(model_id, 0))["paid"]
    assert (bob["trainer"], bob["earned"], bob["accepted"], bob["forfeited"]) == (BOB.address, paid, 1, "0")
    assert (carol["trainer"], carol["earned"], carol["harmful"], carol["forfeited"]) == (CAROL.address, "0", 1, "100")
    assert [(v["version"], v["parent"], v.get("round")) for v in board["versions"]] == [(0, None, None), (1, 0, 0)]

    lines = cli("query", "leaderboard", model_id, output="text").splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("rank"))
    assert lines[header].split() == ["rank", "trainer", "earned", "submissions", "accepted", "harmful/invalid",
                                     "forfeited"]
    assert lines[header + 1].split() == ["1", BOB.address, f"{paid}{VOUCHER}", "1", "1", "0/0", "0ugrad"]
    [carol_line] = [line.split() for line in lines[header + 2:header + 4] if CAROL.address in line]
    assert carol_line[1:] == [CAROL.address, f"0{VOUCHER}", "1", "0", "1/0", "100ugrad"]
    assert f"  round 0: 2 submissions, new head v1, paid {paid}{VOUCHER} (winners 0)" in lines
    tree = lines[lines.index("versions:") + 1:]
    assert tree[0].startswith("v0  parent -  registered")
    assert any(line.startswith("  v1 (head)  parent v0  round 0 (updates 0)") for line in tree)
    assert any(line.strip().startswith("round 0: ") and "correct" in line for line in tree)


def test_earnings_by_address_or_key(played):
    cli, chain, model_id, _, _ = played
    for who in ([BOB.address], ["--key", "bob"], ["bob"]):
        assert cli("query", "earnings", *who) == chain.query_json("/rounds/earnings", BOB.address_bytes)
    carol = cli("query", "earnings", "--key", "carol")
    assert carol["forfeited"] == {"ugrad": "100"} and carol["earned"] == {}
    assert [(s["model_id"], s["round"], s["seq"], s["outcome"]) for s in carol["submissions"]] == \
        [(model_id, 0, 1, "harmful")]
    paid = chain.query_json("/rounds/round", u64(model_id, 0))["paid"]
    text = cli("query", "earnings", "--key", "bob", output="text")
    assert text.startswith(f"{BOB.address}: earned {paid}{VOUCHER}; forfeited nothing")
    assert "give an ADDRESS or --key NAME" in cli("query", "earnings", ok=False)
    assert "give an ADDRESS or --key NAME" in cli("query", "earnings", "bob", "--key", "bob", ok=False)


def test_open_models_lists_active_models_with_bounty_left(played):
    cli, chain, model_id, _, _ = played
    rows = cli("query", "open-models")
    assert [r["id"] for r in rows] == [model_id]       # model 2 is still uploading its weights
    [row] = rows
    record = chain.query_json("/registry/model", u64(model_id))
    assert row["bounty"] == record["escrow"] == str(BOUNTY - int(record["paid"]))
    for key in ("bounty_denom", "paid", "head_version", "current_round", "deposit", "deposit_denom", "target_score",
                "min_improvement", "round_blocks", "expiry_height", "owner", "metric"):
        assert row[key] == record[key], key
    assert row["head_version"] == 1 and row["owner"] == ALICE.address
    text = cli("query", "open-models", output="text")
    assert text.splitlines()[1].split()[:2] == [str(model_id), f"{record['escrow']}{VOUCHER}"]


def test_mistakes_print_the_code_and_exit_nonzero(played):
    cli, chain, model_id, _, _ = played
    home = cli.home
    for args in (("query", "leaderboard", 99), ("query", "round", 99, 0)):
        assert "UnknownModel (registry/1)" in cli(*args, ok=False)
    assert "UnknownSubmission (rounds/6)" in cli("query", "submission", model_id, 0, 7, ok=False)
    assert "UnknownModel (registry/1)" in cli("tx", "submit-update", 99, "--update", home / "honest.bin",
                                              "--from", "bob", ok=False)
    # a delta that is not a Weights message is refused before anything is signed: no fee, no deposit
    sequence = chain.query_json("/auth/account", BOB.address_bytes)["sequence"]
    balance = bank.balance(chain.app.store, BOB.address_bytes, "ugrad")
    out = cli("tx", "submit-update", model_id, "--update", home / "junk.bin", "--from", "bob", ok=False)
    assert "UpdateDecodeError (rounds/7)" in out and "forfeit" in out
    assert chain.query_json("/auth/account", BOB.address_bytes)["sequence"] == sequence
    assert bank.balance(chain.app.store, BOB.address_bytes, "ugrad") == balance
    # the chain's own refusal: a parent version that does not exist
    out = cli("tx", "submit-update", model_id, "--update", home / "honest.bin", "--parent", 5, "--from", "bob",
              ok=False)
    assert "UnknownParent (rounds/2)" in out
    # shards of another model are refused before the reveal is sent
    _, _, wrong = validation(tiny_model()[1], samples=200)
    save_shards(wrong, home / "wrong.json")
    assert load_shards(home / "wrong.json").root == wrong.root
    out = cli("tx", "reveal", model_id, 1, "--shards", home / "wrong.json", "--index", 0, "--from", "alice", ok=False)
    assert f"does not hold model {model_id}'s shards" in out
