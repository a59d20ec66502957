"""A trainer's privacy ledger: the differential-privacy cost of every update it submitted, per (chain,
address, model), kept in one file in its home and shared by every process (issue 14 item 4).

    ledger = PrivacyLedger(home / "privacy_ledger.json")
    ledger.set_budget(chain_id, address, model_id, epsilon=8.0, delta=1e-5)
    trainer.train_and_submit(model_id, X, y, dp=DPConfig(1.0, 1.1), ledger=ledger)   # refused past the budget
    ledger.epsilon(chain_id, address, model_id)                                         # spent so far

Epsilon is recomputed from the recorded rounds with dp-accounting's RDP accountant (client/dp.py), so
rounds from any number of processes compose exactly as one accountant would compose them. A round is
recorded once its update is committed on chain (a sealed update that never reaches a block is never
opened, so it spends nothing); the check, the submission and the record happen under an exclusive lock
on the ledger file, so two processes cannot both pass the same budget. Writes are atomic (temp file,
fsync, rename); the file holds no secret, only noise settings and tx hashes.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
from pathlib import Path

from client.dp import DPConfig, PrivacyAccountant
from client.errors import GradchainError


class EpsilonBudgetExceeded(GradchainError):
    """The update would take the trainer's epsilon for this model past the budget it set: nothing was
    trained, sealed or submitted."""


def _key(chain_id: str, address: str, model_id: int) -> str:
    return f"{chain_id}/{address}/{int(model_id)}"


class PrivacyLedger:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    # --- reading ---------------------------------------------------------------------------------
    def _read(self) -> dict:
        if not self.path.exists():
            return {"version": 1, "entries": {}}
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError) as e:
            raise GradchainError(f"privacy ledger {self.path} is unreadable ({e}); it is the record of the "
                                 "privacy you spent: restore it from a backup rather than deleting it") from None
        if data.get("version") != 1 or not isinstance(data.get("entries"), dict):
            raise GradchainError(f"privacy ledger {self.path} has an unknown format")
        return data

    def entry(self, chain_id: str, address: str, model_id: int) -> dict:
        return self._read()["entries"].get(_key(chain_id, address, model_id), {"budget": None, "rounds": []})

    def entries(self) -> dict[str, dict]:
        return self._read()["entries"]

    @staticmethod
    def accountant_of(entry: dict) -> PrivacyAccountant:
        adjacencies = {r["adjacency"] for r in entry["rounds"]} or {"add_remove"}
        if len(adjacencies) != 1:
            raise GradchainError("the ledger mixes adjacencies for one model; epsilon cannot be composed")
        accountant = PrivacyAccountant(adjacencies.pop())
        for r in entry["rounds"]:
            accountant.record(r["noise_multiplier"], r["sampling_rate"])
        return accountant

    def epsilon(self, chain_id: str, address: str, model_id: int, delta: float | None = None) -> float:
        entry = self.entry(chain_id, address, model_id)
        delta = delta if delta is not None else (entry["budget"] or {}).get("delta", 1e-5)
        return self.accountant_of(entry).epsilon(delta)

    # --- writing ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _write(self, data: dict) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def set_budget(self, chain_id: str, address: str, model_id: int, epsilon: float, delta: float = 1e-5) -> None:
        if not (isinstance(epsilon, (int, float)) and math.isfinite(epsilon) and epsilon > 0):
            raise GradchainError(f"an epsilon budget is a positive number, got {epsilon!r}")
        if not 0 < delta < 1:
            raise GradchainError(f"delta must be in (0, 1), got {delta!r}")
        with self._locked():
            data = self._read()
            entry = data["entries"].setdefault(_key(chain_id, address, model_id), {"budget": None, "rounds": []})
            entry["budget"] = {"epsilon": float(epsilon), "delta": float(delta)}
            self._write(data)

    @contextlib.contextmanager
    def spend(self, chain_id: str, address: str, model_id: int, dp: DPConfig, adjacency: str = "add_remove"):
        """Hold the ledger while one update is privatized and submitted. Raises EpsilonBudgetExceeded first if
        this round would pass the budget. The body calls `record(round_, tx_hash)` once the update is
        committed; a body that raises records nothing."""
        with self._locked():
            data = self._read()
            key = _key(chain_id, address, model_id)
            entry = data["entries"].get(key, {"budget": None, "rounds": []})
            planned = {"noise_multiplier": dp.noise_multiplier, "sampling_rate": dp.sampling_rate,
                       "adjacency": adjacency}
            budget = entry["budget"]
            if budget is not None:
                after = self.accountant_of({"rounds": entry["rounds"] + [planned]}).epsilon(budget["delta"])
                if after > budget["epsilon"]:
                    before = self.accountant_of(entry).epsilon(budget["delta"])
                    raise EpsilonBudgetExceeded(
                        f"this update would take epsilon for model {model_id} from {before:.4g} to {after:.4g}, past "
                        f"the budget {budget['epsilon']:g} (delta {budget['delta']:g}) set in {self.path}")
            recorded = []

            def record(round_: int, tx_hash: str) -> None:
                recorded.append({**planned, "round": int(round_), "tx_hash": tx_hash})

            yield record
            if recorded:
                entry["rounds"] = entry["rounds"] + recorded
                data["entries"][key] = entry
                self._write(data)


__all__ = ["EpsilonBudgetExceeded", "PrivacyLedger"]
