"""Validator-set parameters, set at genesis."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from chain.record import INT, STR, U64, F, Record
from chain.tx.errors import InvalidGenesis
from chain.tx.coins import validate_denom
from chain.validators import keys


@dataclass(frozen=True)
class ValidatorParams:
    bond_denom: str = "ugrad"
    power_reduction: int = 1_000_000   # bond units per unit of voting power
    min_self_bond: int = 1_000_000
    unbonding_blocks: int = 100        # a leaving validator's bond stays slashable this long
    slash_fraction_bps: int = 500      # share of the bond taken on double-sign evidence (5%)
    max_validators: int = 100
    withhold_slash_bps: int = 100      # share of the bond taken per proved withholding (1%)
    max_withholdings: int = 3          # proved withholdings that jail a validator (forced unbond)

    def validate(self) -> None:
        validate_denom(self.bond_denom)
        for name in ("power_reduction", "min_self_bond", "unbonding_blocks", "max_validators", "max_withholdings"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidGenesis(f"validators param {name} must be a positive integer")
        if not isinstance(self.slash_fraction_bps, int) or not 0 <= self.slash_fraction_bps <= 10_000:
            raise InvalidGenesis("validators param slash_fraction_bps must be 0..10000")
        if not isinstance(self.withhold_slash_bps, int) or not 0 <= self.withhold_slash_bps <= 10_000:
            raise InvalidGenesis("validators param withhold_slash_bps must be 0..10000")



class ValidatorParamsRecord(Record):
    """ValidatorParams's stored bytes, field by field."""
    FIELDS = (F("bond_denom", STR), F("power_reduction", U64), F("min_self_bond", INT), F("unbonding_blocks", U64),
              F("slash_fraction_bps", U64), F("max_validators", U64), F("withhold_slash_bps", U64),
              F("max_withholdings", U64))

def load(state) -> ValidatorParams:
    raw = state.get(keys.PARAMS)
    return ValidatorParams(**ValidatorParamsRecord.decode(raw)) if raw is not None else ValidatorParams()


def store(state, params: ValidatorParams) -> None:
    params.validate()
    state.set(keys.PARAMS, ValidatorParamsRecord(asdict(params)).encode())
