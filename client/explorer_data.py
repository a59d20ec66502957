"""What the block explorer (`gradchain explorer`, cli/explorer.py) shows, gathered through one node's RPC and
checked the way the SDK checks what it calls verified (client/verified.py):

    data = ExplorerData(client)
    data.overview()        # chain status (the latest header, light-verified), validators, models
    data.model(model_id)   # one model: terms, bounty left, versions (a tree), rounds with their submissions,
                           # cohorts and outcomes, the leaderboard, and the head's accuracy per round

The node's JSON queries only say which state keys to read. Every record shown as verified is the value of
its state key, Merkle-proven against the app hash of a header the light client verified by validator
signatures: the model, its versions and their scores, each round, submission, aggregate-mode member and
cohort, each validator's bond and status. The leaderboard is recomputed here from the proven submission
and member records (the node's own /rounds/leaderboard is compared with it). Counts the proven records
carry (versions, submissions, joins, cohorts) are checked against what the node listed, so a node cannot
hide one of them. Parts that are not proven (the node's status line, the current round's timing) say so:
each section carries `verified: {"ok": bool, "height": h, "detail": ...}`.
"""
from __future__ import annotations

from chain.codec import u64
from chain.registry import keys as reg_keys
from chain.registry.model import ACCURACY_SCALE, Model, window_end, window_start
from chain.registry.records import Counters, ModelRecord, Score, Version
from chain.rounds import keys as rnd_keys
from chain.rounds.keeper import INVALID
from chain.rounds.records import Cohort, Member, Round, Submission
from chain.tx.address import from_bech32, to_bech32
from chain.validators import keys as val_keys
from chain.validators.keeper import ValidatorRecord
from client.errors import GradchainError, ProofInvalid

ATTEMPTS = 3               # the chain moves between the node's answers and the proofs: re-read on a disagreement


class Mismatch(GradchainError):
    """A proven record disagrees with what the node's query said, or a proven count with its list."""


def _addr(hex_address: str) -> str:
    return to_bech32(bytes.fromhex(hex_address))


def _decode(kind, raw: bytes | None) -> dict | None:
    if raw is None:
        return None
    try:
        return kind.decode(raw)
    except Exception as e:  # noqa: BLE001 - a proven value that does not decode is the chain's own bytes
        raise ProofInvalid(f"a proven {kind.__name__} record does not decode: {e}") from None


def accuracy(score: dict | None) -> float | None:
    """A Score record's accuracy (correct / total), None without one."""
    if not score or not score.get("total"):
        return None
    return score["correct"] / score["total"]


class ExplorerData:
    def __init__(self, client):
        self.client = client

    # --- the chain ----------------------------------------------------------------------------------
    def overview(self) -> dict:
        return {"status": self.status(), "validators": self.validators(), "models": self.models()}

    def status(self) -> dict:
        """The node's status line (unverified) and the latest header, verified by signatures."""
        status = self.client.rpc.status()
        sync, info = status["sync_info"], status["node_info"]
        height = int(sync["latest_block_height"])
        out = {"chain_id": info["network"], "moniker": info.get("moniker"), "node_version": info.get("version"),
               "height": height, "catching_up": sync.get("catching_up"), "latest_block_time": sync.get("latest_block_time")}
        try:
            header = self.client.light.verify(height)
            block = self.client.light.trusted[height]
            out.update(header={"height": header.height, "app_hash": header.app_hash.hex().upper(),
                               "hash": header.hash().hex().upper(), "chain_id": header.chain_id,
                               "validators": len(block.validators.validators),
                               "signatures": sum(1 for s in block.commit.signatures if s.signature)},
                       verified={"ok": True, "height": height,
                                 "detail": "header verified from the light client's trusted anchor by signatures"})
        except Exception as e:  # noqa: BLE001 - any failure to verify is shown, not raised
            out["verified"] = {"ok": False, "height": height, "detail": f"header not verified: {e}"}
        return out

    def validators(self) -> dict:
        """Each validator's proven record (bond, status) and its voting power in a verified header's set."""
        listed = self.client.validators()        # the node's list: which records to prove
        keys = [val_keys.validator_key(from_bech32(v["operator"])) for v in listed]
        try:
            proven = self.client.verified.get_many(keys)
            height = max((p.height for p in proven.values()), default=self.client.rpc.latest_height())
            block = self.client.light.trusted.get(height + 1) or self.client.light.trusted[max(self.client.light.trusted)]
            signing = {v.pubkey.hex(): v.voting_power for v in block.validators.validators}
            rows = []
            for v, key in zip(listed, keys):
                record = _decode(ValidatorRecord, proven[key].value)
                if record is None:
                    raise Mismatch(f"the node listed validator {v['operator']}, whose record is proven absent")
                rows.append({"operator": _addr(record["operator"]), "consensus_pubkey": record["consensus_pubkey"],
                             "bond": str(record["bond"]), "status": record["status"], "power": v["power"],
                             "signing_power": signing.get(record["consensus_pubkey"].lower(), 0)})
            unlisted = set(signing) - {r["consensus_pubkey"].lower() for r in rows}
            if unlisted:
                raise Mismatch(f"{len(unlisted)} signing validator(s) of header {block.height} are not in the node's list")
            return {"validators": rows, "total_signing_power": block.validators.total_power,
                    "verified": {"ok": True, "height": height,
                                 "detail": f"records proven at height {height}; signing power from verified header "
                                           f"{block.height}'s validator set"}}
        except Exception as e:  # noqa: BLE001
            return {"validators": [{**v, "signing_power": None} for v in listed],
                    "verified": {"ok": False, "height": None, "detail": f"not verified: {e}"}}

    def models(self) -> dict:
        """Every model id the proven registry counter allocated, each model's proven record summarized."""
        try:
            counters = _decode(Counters, self.client.verified.get(reg_keys.COUNTERS).value) or {"next_model_id": 1}
            ids = list(range(1, counters["next_model_id"]))
            proven = self.client.verified.get_many([reg_keys.model_key(i) for i in ids])
            rows = []
            for i in ids:
                record = _decode(ModelRecord, proven[reg_keys.model_key(i)].value)
                if record is not None:
                    rows.append(_model_summary(record))
            height = max((p.height for p in proven.values()), default=None)
            return {"models": rows, "verified": {"ok": True, "height": height,
                                                 "detail": "model count and records proven"}}
        except Exception as e:  # noqa: BLE001
            rows = [{**m, "bounty_left": m["bounty"], "bounty_denom": "", "paid": "?", "versions": "?", "privacy": "?"}
                    for m in self.client.query_json("/registry/models")["models"]]
            return {"models": rows, "verified": {"ok": False, "height": None, "detail": f"not verified: {e}"}}

    # --- one model ----------------------------------------------------------------------------------
    def model(self, model_id: int) -> dict:
        last = None
        for _ in range(ATTEMPTS):
            try:
                return self._model(model_id)
            except Mismatch as e:     # the chain moved between the node's lists and the proofs, or the node lies
                last = e
            except Exception as e:  # noqa: BLE001 - a proof that fails, a header that does not verify: shown
                last = e
                break
        return {"id": model_id, "error": f"{type(last).__name__}: {last}",
                "verified": {"ok": False, "height": None, "detail": f"not verified: {last}"}}

    def _model(self, model_id: int) -> dict:
        c = self.client
        view = c.query_json("/registry/model", u64(model_id))            # hints: what to prove
        versions_view = c.query_json("/registry/versions", u64(model_id))
        board_view = c.query_json("/rounds/leaderboard", u64(model_id))
        listed = sorted({r["round"] for r in board_view["rounds"]})    # the rounds with a record
        round_views = {r: c.query_json("/rounds/round", u64(model_id, r)) for r in listed}
        # every round up to the current one is proven present or absent: a round the node left out shows
        round_numbers = sorted(set(listed) | set(range((view.get("current_round") or 0) + 1)))

        keys = [reg_keys.model_key(model_id)]
        keys += [reg_keys.version_key(model_id, v["version"]) for v in versions_view["versions"]]
        keys += [reg_keys.score_key(model_id, v["version"], s["round"])
                 for v in versions_view["versions"] for s in v["scores"]]
        keys += [rnd_keys.round_key(model_id, r) for r in round_numbers]
        for r, rv in round_views.items():
            keys += [rnd_keys.submission_key(model_id, r, s["seq"]) for s in rv["submission_list"]]
            keys += [rnd_keys.member_key(model_id, r, m["seq"]) for m in rv.get("member_list", [])]
            keys += [rnd_keys.cohort_key(model_id, r, k["cohort"]) for k in rv.get("cohort_list", [])]
        proven = c.verified.get_many(keys)
        value = {key: p.value for key, p in proven.items()}
        low, high = min(p.height for p in proven.values()), max(p.height for p in proven.values())

        record = _decode(ModelRecord, value[reg_keys.model_key(model_id)])
        if record is None:
            raise Mismatch(f"model {model_id} is proven absent")
        model = Model(**record)
        versions = []
        for v in versions_view["versions"]:
            proven_version = _decode(Version, value[reg_keys.version_key(model_id, v["version"])])
            if proven_version is None:
                raise Mismatch(f"the node listed version {v['version']}, proven absent")
            scores = {}
            for s in v["scores"]:
                score = _decode(Score, value[reg_keys.score_key(model_id, v["version"], s["round"])])
                if score is None:
                    raise Mismatch(f"the node listed a score of version {v['version']} in round {s['round']}, proven absent")
                scores[s["round"]] = score
            versions.append({**proven_version, "scores": [{"round": r, **s, "accuracy": accuracy(s)}
                                                          for r, s in sorted(scores.items())]})
        if len(versions) != model.version_count:
            raise Mismatch(f"the node listed {len(versions)} versions; the proven model has {model.version_count}")
        score_of = {(v["version"], s["round"]): s for v in versions for s in v["scores"]}

        rounds = []
        for r in round_numbers:
            rec = _decode(Round, value[rnd_keys.round_key(model_id, r)])
            if (rec is None) != (r not in round_views):
                raise Mismatch(f"round {r}'s record is proven {'absent' if rec is None else 'present'}, "
                               f"the node's leaderboard says otherwise")
            if rec is None:
                continue          # no submission (or join) yet
            rounds.append(self._round(model, r, rec, round_views[r], value))

        trainers = _leaderboard(rounds)
        node_board = {t["trainer"]: {k: t[k] for k in ("earned", "forfeited", "submissions", "accepted")}
                      for t in board_view["trainers"]}
        recomputed = {t["trainer"]: {k: t[k] for k in ("earned", "forfeited", "submissions", "accepted")}
                      for t in trainers}
        if node_board != recomputed:
            raise Mismatch("the node's leaderboard differs from the one recomputed from proven records")

        series = []
        for rnd in rounds:
            if rnd.get("closed_height") is None:
                continue
            after_version = rnd["new_version"] if rnd.get("new_version") is not None else rnd["base_version"]
            before = score_of.get((rnd["base_version"], rnd["round"]))
            after = score_of.get((after_version, rnd["round"]))
            series.append({"round": rnd["round"], "base_version": rnd["base_version"], "head_version": after_version,
                           "before": accuracy(before), "after": accuracy(after), "new_head": rnd.get("new_version") is not None})

        current = model.current_round(high + 1)
        view_out = {**record, "owner": _addr(record["owner"]), "current_round": current,
                    "bounty_left": record["escrow"], "accuracy_scale": ACCURACY_SCALE}
        if current is not None:
            view_out["current_window"] = [model.round_start(current), model.round_end(current)]
        return {"id": model_id, "model": view_out, "versions": versions, "rounds": rounds, "leaderboard": trainers,
                "accuracy": series,
                "verified": {"ok": True, "height": high,
                             "detail": f"{len(proven)} records proven at heights {low}..{high}: the model, "
                                       f"{len(versions)} versions and their scores, {len(rounds)} rounds with their "
                                       "submissions, members and cohorts; the leaderboard recomputed from them"}}

    def _round(self, model: Model, r: int, rec: dict, rv: dict, value: dict) -> dict:
        mid = model.id
        subs = []
        for s in rv["submission_list"]:
            sub = _decode(Submission, value[rnd_keys.submission_key(mid, r, s["seq"])])
            if sub is None:
                raise Mismatch(f"the node listed submission {s['seq']} of round {r}, proven absent")
            subs.append({**sub, "submitter": _addr(sub["submitter"]), "accuracy": accuracy(sub.get("score"))})
        if len(subs) != rec["submissions"]:
            raise Mismatch(f"round {r}: the node listed {len(subs)} submissions; the proven round has {rec['submissions']}")
        out = {**rec, "submission_list": subs,
               "window": [window_start(model.activated_height, model.round_blocks, r),
                          window_end(model.activated_height, model.round_blocks, r)],
               "aggregate_mode": model.aggregate}
        if model.aggregate:
            members = []
            for m in rv.get("member_list", []):
                member = _decode(Member, value[rnd_keys.member_key(mid, r, m["seq"])])
                if member is None:
                    raise Mismatch(f"the node listed member {m['seq']} of round {r}, proven absent")
                members.append({k: v for k, v in member.items() if k != "round_pubkey"} | {"member": _addr(member["member"])})
            cohorts = []
            for k in rv.get("cohort_list", []):
                cohort = _decode(Cohort, value[rnd_keys.cohort_key(mid, r, k["cohort"])])
                if cohort is None:
                    raise Mismatch(f"the node listed cohort {k['cohort']} of round {r}, proven absent")
                cohorts.append(cohort)
            if len(members) != rec.get("joins", len(members)) or len(cohorts) != rec.get("cohorts", len(cohorts)):
                raise Mismatch(f"round {r}: the node's member or cohort list does not match the proven counts")
            out.update(member_list=members, cohort_list=cohorts)
        return out


def _model_summary(record: dict) -> dict:
    return {"id": record["id"], "owner": _addr(record["owner"]), "status": record["status"], "metric": record["metric"],
            "bounty_left": record["escrow"], "bounty_denom": record["bounty_denom"], "paid": record["paid"],
            "head_version": record["head_version"], "versions": record["version_count"],
            "privacy": record.get("privacy", "open"), "expiry_height": record["expiry_height"]}


_EMPTY = {"earned": 0, "submissions": 0, "accepted": 0, "harmful": 0, "invalid": 0, "forfeited": 0}


def _leaderboard(rounds: list[dict]) -> list[dict]:
    """Trainers ranked by earnings, from the proven round, submission and member records: the rule of
    chain/rounds/queries.py leaderboard (a cohort's mean counts for its members, not for its submitter)."""
    trainers: dict[str, dict] = {}
    for rnd in rounds:
        for m in rnd.get("member_list", []):
            row = trainers.setdefault(m["member"], dict(_EMPTY))
            row["submissions"] += 1
            row["accepted"] += int(m.get("outcome") == "accepted")
            row["invalid"] += int(m["status"] == INVALID)
            row["earned"] += int(m.get("payout", "0"))
            if m["status"] == INVALID:
                row["forfeited"] += int(m["deposit"])
        for s in rnd["submission_list"]:
            if "members" in s:
                continue
            row = trainers.setdefault(s["submitter"], dict(_EMPTY))
            row["submissions"] += 1
            row["accepted"] += int(s.get("outcome") == "accepted")
            row["harmful"] += int(s.get("outcome") == "harmful")
            row["invalid"] += int(s["status"] == INVALID)
            row["earned"] += int(s.get("payout", "0"))
            if s["status"] == INVALID or s.get("outcome") == "harmful":
                row["forfeited"] += int(s["deposit"])
    # ranked as the chain ranks them: by earnings, then by the raw address bytes
    ranked = sorted(trainers.items(), key=lambda kv: (-kv[1]["earned"], from_bech32(kv[0])))
    return [{"trainer": a, **{k: str(v) if k in ("earned", "forfeited") else v for k, v in row.items()}}
            for a, row in ranked]


__all__ = ["ExplorerData", "Mismatch", "accuracy"]
