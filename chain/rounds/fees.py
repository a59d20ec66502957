"""Prepaid scoring (docs/rounds.md, "Scoring fees"): every scoring job is paid for, in the native denom at
the registry param fee_per_work_unit per multiply-add, by the party that causes it.

* A submission's candidate job: the submitter prepays, at MsgSubmitUpdate, the most it can cost, since the
  round's shard is revealed only after the window: max_shard_samples x work_per_sample(spec) x price. The
  prepayment sits in the rounds escrow (counted by keeper.held_deposits); when the job is queued its exact
  cost (the revealed shard's samples) is fixed on the record (scoring_fee_due), and when the submission
  settles (settled, invalid or void) that much goes to the fee collector and the rest back to the trainer.
  A submission that never got a job (invalid, void) gets all of it back: no scoring ran for it.
* The head's job on the revealed shard: the owner pays it with MsgRevealShard, to the fee collector, as
  before. The round's other owner-side jobs (the other versions the close needs: parents, the confirming
  pair, a head that changed meanwhile; and the FedAvg aggregate) are queued later, at end-block, with no
  signer: the owner prepays a reserve for them with the reveal, into the rounds escrow (the round record's
  scoring_reserve): (distinct parents and confirming versions other than the head + 1 head change + 1
  aggregate) jobs. Each such job draws its exact cost from the reserve into the fee collector; if the
  reserve runs out (more head changes than foreseen) the rest comes out of the model's bond in the registry
  escrow (both escrows' invariants stay exact: the reserve is owed by the rounds escrow until drawn or
  refunded, the bond by the registry escrow until spent). What is left of the reserve goes back to the
  owner when the round closes (or its model does).
"""
from __future__ import annotations

from chain.auth import params as auth_params
from chain.auth.ante import FEE_COLLECTOR
from chain.bank import keeper as bank
from chain.registry import keeper as registry
from chain.registry import params as registry_params
from chain.registry.model import Model
from chain.rounds import keeper
from chain.rounds.errors import InsufficientScoringFee
from chain.rounds.scoring_queue import work_per_sample


def job_price(state, samples: int, per_sample: int) -> int:
    """Native units one job of `samples` samples at `per_sample` multiply-adds each costs."""
    return samples * per_sample * registry_params.load(state).fee_per_work_unit


def submit_prepayment(state, model: Model) -> tuple[str, int]:
    """(native denom, amount) a submission prepays for its candidate's job: the most it can cost."""
    params = registry_params.load(state)
    per_sample = work_per_sample(registry.stored_spec(state, model.id))
    return auth_params.load(state).fee_denom, params.max_shard_samples * per_sample * params.fee_per_work_unit


def require_funds(state, payer: bytes, coins: list[tuple[str, int]], what: str) -> None:
    """Refuse (InsufficientScoringFee) unless `payer` holds all of `coins` at once (same denoms summed)."""
    need: dict[str, int] = {}
    for denom, amount in coins:
        need[denom] = need.get(denom, 0) + amount
    for denom, amount in sorted(need.items()):
        have = bank.balance(state, payer, denom)
        if have < amount:
            raise InsufficientScoringFee(f"{what}: need {amount}{denom} in all, have {have}{denom}")


def reserve_jobs(model: Model, round_: int, submissions: list[dict]) -> int:
    """How many owner-side jobs beyond the head's the reveal of `round_` prepays (see the module doc)."""
    versions = {s["parent"] for s in submissions}
    if model.pending is not None and model.pending["round"] < round_:
        versions |= {model.pending["version"], model.pending["base"]}
    return len(versions - {model.head_version}) + 2 + (model.aggregator != "fedavg")   # + the robust aggregate


def charge_owner_job(state, model_id: int, round_: int, cost: int) -> None:
    """Pay an owner-side job queued at end-block: from the round's reserve, then from the model's bond."""
    record = keeper.get_round(state, model_id, round_)
    record, unpaid = keeper.draw_reserve(state, record, cost)
    keeper.put_round(state, record)
    if unpaid:
        model = registry.get_model(state, model_id)
        take = min(unpaid, int(model.bond))
        if take:
            registry.BANK.pay(state, FEE_COLLECTOR, [(model.bond_denom, take)])
            registry.put_model(state, model.with_(bond=str(int(model.bond) - take)))
