"""`gradchain train` and `gradchain tx reveal-due` (cli/train.py, cli/rounds.py) against an
in-process chain through click's CliRunner: trainers train from a .npz, a folder of .npy files and a CSV
with a header and submit sealed updates; the validators release; the owner's `tx reveal-due` reveals; the
round closes and the submissions are settled and paid. `--wait` is run while the in-process "network"
advances (the trainer's poll sleeps are where blocks happen). Wrong data is refused before anything is
signed; the DP flags change the update exactly as client.dp.privatize would and print epsilon.
Loading the data layouts (client/data.py) is tested on its own at the end."""
import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

_TESTS = Path(__file__).resolve().parent.parent
if str(_TESTS / "rounds") not in sys.path:
    sys.path.insert(0, str(_TESTS / "rounds"))

from roundsutil import RoundsChain  # noqa: E402
from test_release import next_block, votes, window  # noqa: E402

import cli.rounds  # noqa: E402
import client.client  # noqa: E402
import client.dp  # noqa: E402
import client.trainer  # noqa: E402
import client.updates  # noqa: E402
from chain.bank import keeper as bank  # noqa: E402
from chain.scoring.spec import LOSS_NAMES  # noqa: E402
from chain.tx.coins import Coin  # noqa: E402
from chain.bank.messages import MsgSend  # noqa: E402
from chainutil import ALICE, BOB, CAROL  # noqa: E402
from cli.main import main  # noqa: E402
from cliutil import json_error_text  # noqa: E402
from client.data import DataError, fit_to_spec, load_data  # noqa: E402
from client.dp import DPConfig, PrivacyAccountant, encode_delta, make_rng, privatize  # noqa: E402
from client.model import from_chain  # noqa: E402
from client.owner import Owner  # noqa: E402
from client.rounds import save_shards  # noqa: E402
from client.trainer import delta_from_torch  # noqa: E402
from client.training import head_model, train  # noqa: E402
from client.txbuilder import coins  # noqa: E402
from client.wallet import Keyring, Wallet  # noqa: E402
from registryutil import InProcessRPC, VOUCHER, activate, digits, in_process_client, tiny_model, u64  # noqa: E402
from registryutil import validation  # noqa: E402

torch = pytest.importorskip("torch")
PASSWORD = "test-password"
DAVE = Wallet.from_seed(b"\x04" * 32)
VALIDATION = 600          # the last 600 digits: 6 hidden shards of 100


class World:
    """A fresh chain with an active digits model (round_blocks 12, reveal_blocks 10), a keyring with the
    owner alice and trainers bob, carol, dave, each trainer's private data in a different layout, and the
    owner's shards file."""

    def __init__(self, home: Path):
        self.home = home
        net, self.model = tiny_model()
        _, _, self.shards = validation(self.model, samples=VALIDATION)
        X, y = digits()
        self.X, self.y = X[:-VALIDATION], y[:-VALIDATION]
        keys = Keyring(home / "keyring")
        for name, wallet in (("alice", ALICE), ("bob", BOB), ("carol", CAROL), ("dave", DAVE)):
            keys.add(name, PASSWORD, wallet)
        save_shards(self.shards, home / "shards.json")
        # bob: a .npz; carol: a folder with X.npy and y.npy; dave: a CSV with a header row
        np.savez(home / "bob.npz", X=self.X[:400], y=self.y[:400])
        (home / "carol").mkdir()
        np.save(home / "carol" / "X.npy", self.X[400:800])
        np.save(home / "carol" / "y.npy", self.y[400:800])
        header = ",".join([f"pixel{i}" for i in range(64)] + ["label"])
        rows = [",".join([f"{v:g}" for v in x] + [str(int(label))]) for x, label in zip(self.X[800:], self.y[800:])]
        (home / "dave.csv").write_text(header + "\n" + "\n".join(rows) + "\n")

        self.chain = RoundsChain()
        self.model_id = activate(self.chain, self.model, self.shards, bounty=Coin.of(VOUCHER, 100_000),
                                 round_blocks=12, reveal_blocks=10, expiry_height=2000)
        result, _ = self.chain.run(ALICE, MsgSend(to_address=DAVE.address_bytes, amount=coins({"ugrad": 1_000_000})))
        assert result.code == 0, result.log
        self.original_client = client.client.Client

    # --- the CLI, every Client answered by the in-process chain ------------------------------------------
    def client(self, url="", timeout=30.0, **anchor):
        c = self.original_client("http://in-process")
        c.rpc.close()
        c.rpc = InProcessRPC(self.chain)
        return c

    def invoke(self, *args, output="json", patches=()):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(client.client, "Client", self.client)
            for target, name, value in patches:
                mp.setattr(target, name, value)
            return CliRunner().invoke(main, ["--home", str(self.home), "-o", output, *map(str, args)],
                                      env={"GRADCHAIN_PASSWORD": PASSWORD})

    def __call__(self, *args, output="json", ok=True, patches=()):
        result = self.invoke(*args, output=output, patches=patches)
        if ok:
            assert result.exit_code == 0, result.output
            return json.loads(result.output) if output == "json" else result.output
        assert result.exit_code != 0 and "Traceback" not in result.output, result.output
        return json_error_text(result.output) if output == "json" else result.output

    # --- the network: blocks carry the validators' vote extensions, so sealed updates open when due ----------
    def block(self, *_):
        next_block(self.chain, votes(self.chain, self.chain.height + 1))

    def release(self, round_: int) -> None:
        """Blocks until round_'s window has ended and its updates are opened."""
        _, end = window(self.chain, self.model_id, round_)
        while self.chain.height < end:
            self.block()

    def until_closed(self, round_: int) -> dict:
        for _ in range(100):
            info = self.chain.query_json("/rounds/round", u64(self.model_id, round_))
            if "closed_height" in info:
                return info
            self.block()
        raise AssertionError(f"round {round_} did not close")

    def sequence(self, wallet) -> int:
        return self.chain.query_json("/auth/account", wallet.address_bytes)["sequence"]


@pytest.fixture
def world(tmp_path):
    return World(tmp_path)


def test_train_from_npz_npy_folder_and_csv_then_reveal_due_closes_the_round(world):
    m = world.model_id
    subs = {}
    for who, data in (("bob", "bob.npz"), ("carol", "carol"), ("dave", "dave.csv")):
        subs[who] = world("train", m, "--data", world.home / data, "--from", who, "--no-wait", "--seed", 1)
    bob, carol, dave = subs["bob"], subs["carol"], subs["dave"]
    assert [s["data"]["layout"] for s in (bob, carol, dave)] == ["npz", "npy", "csv"]
    assert [s["data"]["samples"] for s in (bob, carol, dave)] == [400, 400, len(world.X) - 800]
    assert all(s["data"]["features"] == 64 and s["result"] is None for s in subs.values())
    assert len({s["round"] for s in subs.values()}) == 1 and [s["seq"] for s in (bob, carol, dave)] == [0, 1, 2]
    round_ = bob["round"]
    for s, wallet in ((bob, BOB), (carol, CAROL), (dave, DAVE)):
        record = world.chain.query_json("/rounds/submission", u64(m, round_, s["seq"]))
        assert record["status"] == "sealed" and record["submitter"] == s["submitter"] == wallet.address
        assert record["height"] == s["height"] and record["envelope_hash"] == s["envelope_hash"]
        assert s["deposit"] == "100ugrad" and s["parent"] == 0 and len(s["training"]["losses"]) == 5

    # before the window ends there is nothing to reveal
    assert world("tx", "reveal-due", m, "--shards", world.home / "shards.json", "--from", "alice") == []
    text = world("tx", "reveal-due", m, "--shards", world.home / "shards.json", "--from", "alice", output="text")
    assert "nothing to reveal" in text
    world.release(round_)
    assert all(world.chain.query_json("/rounds/submission", u64(m, round_, s))["status"] == "opened" for s in (0, 1, 2))
    [revealed] = world("tx", "reveal-due", m, "--shards", world.home / "shards.json", "--from", "alice")
    assert (revealed["model_id"], revealed["round"], revealed["shard_index"], revealed["updates"]) == (m, round_, 0, 3)
    assert world("tx", "reveal-due", m, "--shards", world.home / "shards.json", "--from", "alice") == []  # once
    info = world.until_closed(round_)
    assert info["new_version"] == 1 and info["payout_pending"] is True   # paid once a later round confirms

    for s in (bob, carol, dave):       # the best candidate (one update, or their aggregate) will be paid
        record = world("query", "submission", m, round_, s["seq"])
        assert record["status"] == "settled" and record["deposit_returned"] is True
        assert record["outcome"] == ("accepted" if s["seq"] in info["winners"] else "improving")
        assert record["payout_pending"] == (s["seq"] in info["winners"]) and record["payout"] == "0"


def test_train_wait_prints_the_settled_result_and_payout(world):
    m = world.model_id
    owner = Owner(in_process_client(world.chain), ALICE)

    def network(_seconds):      # while the trainer polls: the owner reveals what is due, a block is made
        owner.reveal_due(m, world.shards)
        world.block()

    clock = types.SimpleNamespace(sleep=network, monotonic=client.updates.time.monotonic)
    out = world("train", m, "--data", world.home / "bob.npz", "--from", "bob", "--epochs", 8, "--optimizer", "adam",
                "--lr", 0.01, "--batch-size", 32, "--seed", 3, patches=[(client.updates, "time", clock)])
    assert out["training"] == {"epochs": 8, "optimizer": "adam", "lr": 0.01, "batch_size": 32, "seed": 3,
                               "losses": out["training"]["losses"]} and len(out["training"]["losses"]) == 8
    record = world.chain.query_json("/rounds/submission", u64(m, out["round"], out["seq"]))
    assert out["result"] == record
    assert record["status"] == "settled" and record["outcome"] == "accepted" and record["payout_pending"] is True
    assert out["deposit_outcome"] == "returned" and out["dp"] is None
    assert out["accuracy"] == record["score"]["correct"] / record["score"]["total"]



def test_train_wait_in_text_prints_round_seq_deposit_then_the_result(world):
    m = world.model_id
    owner = Owner(in_process_client(world.chain), ALICE)

    def network(_seconds):
        owner.reveal_due(m, world.shards)
        world.block()

    clock = types.SimpleNamespace(sleep=network, monotonic=client.updates.time.monotonic)
    text = world("train", m, "--data", world.home / "carol", "--from", "carol", "--quiet", "--seed", 1, output="text",
                 patches=[(client.updates, "time", clock)])
    submitted = next(line for line in text.splitlines() if line.startswith("submitted: "))
    assert "of model" in submitted and "deposit 100ugrad held" in submitted
    round_, seq = int(submitted.split(" of round ")[1].split()[0]), int(submitted.split("update ")[1].split()[0])
    record = world.chain.query_json("/rounds/submission", u64(m, round_, seq))
    assert record["status"] == "settled" and record["submitter"] == CAROL.address
    score = record["score"]
    result = text.splitlines()[-1]
    assert result.startswith(f"result: settled, outcome {record['outcome']}")
    assert f"score {score['correct']}/{score['total']} correct ({100 * score['correct'] / score['total']:.2f}%)" in result
    payout = ("payout pending until a later round confirms the gain" if record["payout_pending"]
              else f"payout {record['payout']}{VOUCHER}")
    assert payout in result and "deposit 100ugrad returned" in result
    assert "never sent" in text and "400 samples x 64 features" in text


def test_reveal_due_watch_reveals_as_rounds_close_until_ctrl_c(world):
    m = world.model_id
    sub = world("train", m, "--data", world.home / "bob.npz", "--from", "bob", "--no-wait")
    _, end = window(world.chain, m, sub["round"])
    calls = []

    def network(_seconds):      # the watcher's poll: a block; once the reveal is in, the user presses Ctrl-C
        calls.append(world.chain.height)
        if world.chain.query_json("/registry/model", u64(m))["rounds"]:
            raise KeyboardInterrupt
        world.block()

    clock = types.SimpleNamespace(sleep=network)
    result = world.invoke("tx", "reveal-due", m, "--shards", world.home / "shards.json", "--from", "alice",
                          "--watch", "--poll", 0.01, patches=[(cli.rounds, "time", clock)])
    assert result.exit_code == 0, result.output
    [line] = result.output.splitlines()          # json: one object per reveal
    row = json.loads(line)
    assert (row["model_id"], row["round"], row["shard_index"]) == (m, sub["round"], 0) and row["height"] >= end
    assert row["updates"] in (0, 1)              # revealed as soon as the window closed, before or after the opening
    assert len(calls) >= end - sub["height"]
    world.until_closed(sub["round"])
    record = world("query", "submission", m, sub["round"], sub["seq"])
    assert record["status"] == "settled" and record["outcome"] == "accepted" and record["payout_pending"] is True

    # text: a line per reveal and a summary; the model already revealed everything due
    sub = world("train", m, "--data", world.home / "carol", "--from", "carol", "--no-wait")
    world.release(sub["round"])
    seen = []

    def ctrl_c_after_one(_seconds):
        seen.append(1)
        raise KeyboardInterrupt

    text = world("tx", "reveal-due", m, "--shards", world.home / "shards.json", "--from", "alice", "--watch",
                 output="text", patches=[(cli.rounds, "time", types.SimpleNamespace(sleep=ctrl_c_after_one))])
    assert f"round {sub['round']} of model {m}: shard 1 revealed" in text and "1 update(s) to score" in text
    assert text.splitlines()[-1] == "stopped: 1 shard(s) revealed" and seen == [1]
    # only the owner, with the model's own shards
    out = world("tx", "reveal-due", m, "--shards", world.home / "shards.json", "--from", "bob", ok=False)
    assert "not model" in out and "owner" in out
    _, _, other = validation(tiny_model(seed=3)[1], samples=200)
    save_shards(other, world.home / "other.json")
    out = world("tx", "reveal-due", m, "--shards", world.home / "other.json", "--from", "alice", ok=False)
    assert f"does not hold model {m}'s shards" in out


def test_wrong_data_is_refused_before_anything_is_signed(world):
    m, home = world.model_id, world.home
    before = world.sequence(BOB), bank.balance(world.chain.app.store, BOB.address_bytes, "ugrad")
    height = world.chain.height
    np.savez(home / "narrow.npz", X=world.X[:50, :63], y=world.y[:50])
    out = world("train", m, "--data", home / "narrow.npz", "--from", "bob", ok=False)
    assert "63 features per sample" in out and "expected 64 feature columns" in out
    header = ",".join([f"f{i}" for i in range(65)] + ["label"])
    (home / "wide.csv").write_text(header + "\n" + "\n".join(",".join(["0"] * 65 + ["1"]) for _ in range(5)) + "\n")
    out = world("train", m, "--data", home / "wide.csv", "--from", "bob", output="text", ok=False)
    assert "65 features per sample" in out and "expected 64 feature columns plus the label column" in out
    np.savez(home / "labels.npz", X=world.X[:50], y=world.y[:50] + 10)
    assert "labels must be classes 0..9" in world("train", m, "--data", home / "labels.npz", "--from", "bob", ok=False)
    np.savez(home / "names.npz", features=world.X[:5], labels=world.y[:5])
    assert "needs 'X' (features) and 'y' (labels)" in world("train", m, "--data", home / "names.npz", "--from", "bob",
                                                          ok=False)
    (home / "empty").mkdir()
    assert "holds no training data" in world("train", m, "--data", home / "empty", "--from", "bob", ok=False)
    out = world("train", m, "--data", home / "bob.npz", "--from", "bob", "--dp-clip", 1.0, ok=False)
    assert "needs both --dp-clip and --dp-noise" in out
    out = world("train", m, "--data", home / "bob.npz", "--from", "bob", "--dp-clip", -1, "--dp-noise", 1, ok=False)
    assert "clip_norm must be a positive number" in out
    assert "UnknownModel (registry/1)" in world("train", 99, "--data", home / "bob.npz", "--from", "bob", ok=False)
    import importlib.util
    find_spec = importlib.util.find_spec
    no_torch = lambda name, *a: None if name == "torch" else find_spec(name, *a)  # noqa: E731
    out = world("train", m, "--data", home / "bob.npz", "--from", "bob", ok=False,
                patches=[(importlib.util, "find_spec", no_torch)])
    assert "needs torch" in out and "gradchain[train]" in out
    # nothing was signed or broadcast: same sequence, same balance, no block made
    assert (world.sequence(BOB), bank.balance(world.chain.app.store, BOB.address_bytes, "ugrad")) == before
    assert world.chain.height == height


def test_dp_flags_change_the_update_exactly_as_privatize_and_print_epsilon(world):
    m = world.model_id
    head = head_model(in_process_client(world.chain), m)
    fixed = lambda seed=None: make_rng(99)  # noqa: E731 - the noise stream, pinned for the comparison
    plain = world("train", m, "--data", world.home / "bob.npz", "--from", "bob", "--seed", 7, "--no-wait")
    noisy = world("train", m, "--data", world.home / "bob.npz", "--from", "carol", "--seed", 7, "--no-wait",
                  "--dp-clip", 0.5, "--dp-noise", 0.05, "--dp-delta", 1e-6, patches=[(client.dp, "make_rng", fixed)])
    assert plain["dp"] is None and plain["round"] == noisy["round"]
    accountant = PrivacyAccountant()
    accountant.record(0.05)
    expected_epsilon = accountant.epsilon(1e-6)
    dp = noisy["dp"]
    assert dp["epsilon"] == pytest.approx(expected_epsilon) and dp["rounds"] == 1 and dp["target_delta"] == 1e-6
    assert dp["clipped"] and dp["norm_clipped"] <= 0.5 < dp["norm_before"] and dp["sigma"] == pytest.approx(0.025)

    world.release(plain["round"])
    opened = [world.chain.query("/rounds/update", u64(m, plain["round"], s["seq"])).value for s in (plain, noisy)]
    assert all(opened) and opened[0] != opened[1]
    # the plain update is client.training.train with these options, from the head; the DP one is its privatize
    net = train(from_chain(head).float(), (world.X[:400], world.y[:400]), epochs=5, optimizer="sgd",
                batch_size=64, loss=LOSS_NAMES[head.spec.loss], seed=7, progress=False)
    assert opened[0] == delta_from_torch(head, net)
    arrays, report = privatize(opened[0], head, DPConfig(clip_norm=0.5, noise_multiplier=0.05, target_delta=1e-6),
                               rng=make_rng(99))
    assert opened[1] == encode_delta(arrays) and report.epsilon == pytest.approx(dp["epsilon"])

    # text mode prints the epsilon over every DP update of this key to this model, from the privacy ledger
    text = world("train", m, "--data", world.home / "carol", "--from", "dave", "--quiet", "--no-wait",
                 "--dp-clip", 2.0, "--dp-noise", 1.1, output="text")
    accountant = PrivacyAccountant()
    accountant.record(1.1)
    line = next(line for line in text.splitlines() if line.startswith("differential privacy: "))
    assert f"epsilon {accountant.epsilon(1e-5):.4g} at delta 1e-05 over your 1 DP update(s)" in line
    help_text = " ".join(world("train", "--help", output="text").split())
    assert "never leaves" in help_text and "privacy ledger" in help_text


def test_privacy_ledger_accumulates_across_runs_and_epsilon_budget_refuses(world):
    m = world.model_id
    args = ("train", m, "--data", world.home / "bob.npz", "--from", "bob", "--no-wait", "--dp-clip", 1.0,
            "--dp-noise", 1.0)
    first = world(*args)
    second = world(*args)
    assert second["round"] == first["round"]
    twice = PrivacyAccountant()
    twice.record(1.0, rounds=2)
    assert second["dp"]["rounds"] == 2 and second["dp"]["epsilon"] == pytest.approx(twice.epsilon(1e-5))
    [row] = world("privacy", "show", "--from", "bob")
    assert row["model_id"] == m and row["updates"] == 2 and row["epsilon"] == pytest.approx(twice.epsilon(1e-5))
    assert row["budget"] is None
    world("privacy", "budget", m, twice.epsilon(1e-5) + 1e-6, "--from", "bob")
    seq = world.chain.query_json("/auth/account", BOB.address_bytes)["sequence"]
    out = world(*args, ok=False)
    assert "EpsilonBudgetExceeded" in out or "past the budget" in out
    assert world.chain.query_json("/auth/account", BOB.address_bytes)["sequence"] == seq   # nothing sent


# --- client/data.py on its own ------------------------------------------------------------------------------
def test_load_data_layouts(tmp_path):
    X = np.arange(12, dtype=np.float64).reshape(4, 3) / 8
    y = np.array([0, 1, 2, 1])
    csv_body = "\n".join(",".join([f"{v:g}" for v in row] + [str(label)]) for row, label in zip(X, y)) + "\n"
    (tmp_path / "plain.csv").write_text(csv_body)
    (tmp_path / "header.csv").write_text("a,b,c,label\n" + csv_body + "\n")
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "data.csv").write_text(csv_body)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    for path, layout, header in (("plain.csv", "csv", False), ("header.csv", "csv", True), ("one", "csv", False),
                                 ("d.npz", "npz", False)):
        X2, y2, source = load_data(tmp_path / path)
        assert np.array_equal(X2, X) and np.array_equal(y2, y), path
        assert (source.layout, source.header) == (layout, header)
    (tmp_path / "one" / "more.csv").write_text(csv_body)
    with pytest.raises(DataError, match="holds 2 .csv files"):
        load_data(tmp_path / "one")
    (tmp_path / "bad.csv").write_text("a,b,label\n1,2,3\n1,x,3\n")
    with pytest.raises(DataError, match="line 3: 'x' is not a number"):
        load_data(tmp_path / "bad.csv")
    (tmp_path / "ragged.csv").write_text("1,2,3\n1,2\n")
    with pytest.raises(DataError, match="line 2: 2 columns"):
        load_data(tmp_path / "ragged.csv")
    (tmp_path / "x.txt").write_text("")
    with pytest.raises(DataError, match="unsupported file type .txt"):
        load_data(tmp_path / "x.txt")
    (tmp_path / "half").mkdir()
    np.save(tmp_path / "half" / "X.npy", X)
    with pytest.raises(DataError, match="no y.npy"):
        load_data(tmp_path / "half")


def test_fit_to_spec_reshapes_and_checks_labels():
    _, model = tiny_model()
    X, y = digits()
    images = X[:10].reshape(10, 8, 8)                      # 8x8 images: 64 features per sample, flattened
    X2, y2 = fit_to_spec(images, y[:10].astype(np.float64), model.spec)
    assert X2.shape == (10, 64) and y2.dtype == np.int64 and np.array_equal(y2, y[:10])
    with pytest.raises(DataError, match="whole numbers"):
        fit_to_spec(X[:3], np.array([0.5, 1, 2]), model.spec)
    with pytest.raises(DataError, match="3 samples but 2 labels"):
        fit_to_spec(X[:3], y[:2], model.spec)
    with pytest.raises(DataError, match="NaN"):
        fit_to_spec(np.full((2, 64), np.nan), y[:2], model.spec)
