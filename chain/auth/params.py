"""Fee and size parameters, set at genesis (governance can change them later)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from chain.auth import keys
from chain.record import INT, STR, U64, F, Record
from chain.tx.errors import InvalidGenesis
from chain.tx.coins import validate_denom


@dataclass(frozen=True)
class AuthParams:
    fee_denom: str = "ugrad"
    min_fee_base: int = 0          # fee every tx pays, in fee_denom
    min_fee_per_byte: int = 1      # plus this per byte of the raw tx
    max_tx_bytes: int = 65536      # larger txs are rejected before decoding

    def required_fee(self, tx_len: int) -> int:
        return self.min_fee_base + self.min_fee_per_byte * tx_len

    def validate(self) -> None:
        validate_denom(self.fee_denom)
        for name in ("min_fee_base", "min_fee_per_byte", "max_tx_bytes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise InvalidGenesis(f"auth param {name} must be a non-negative integer")
        if not 256 <= self.max_tx_bytes <= 16 * 1024 * 1024:
            raise InvalidGenesis("auth param max_tx_bytes must be between 256 and 16 MiB")



class AuthParamsRecord(Record):
    """AuthParams's stored bytes, field by field."""
    FIELDS = (F("fee_denom", STR), F("min_fee_base", INT), F("min_fee_per_byte", INT), F("max_tx_bytes", U64))

# Every CheckTx reads the params; decoding them is a pure function of the stored bytes, so the last
# decoding is kept with the bytes it came from (one entry: a change of params is a new key).
_last: tuple[bytes, AuthParams] | None = None


def load(state) -> AuthParams:
    global _last
    raw = state.get(keys.PARAMS)
    last = _last
    if last is not None and last[0] == raw:
        return last[1]
    params = AuthParams(**AuthParamsRecord.decode(raw))
    _last = (raw, params)
    return params


def store(state, params: AuthParams) -> None:
    params.validate()
    state.set(keys.PARAMS, AuthParamsRecord(asdict(params)).encode())
