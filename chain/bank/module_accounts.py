"""Every module account with its permissions: the one table the bank checks at run time.

A module account is an address no private key controls, `SHA-256("module:" + name)[:20]`
(`chain.tx.address.module_address`). Its coins move only through the capability bound to it
(`chain.bank.capabilities`), which exactly one module (its holder) obtains; other modules that need
to move the same coins go through the holder (the rounds module pays bounties with the registry's
capability, the registry charges scoring fees with auth's). A plain `MsgSend` to any module account is
refused (bank/8). Genesis may still give module accounts balances (escrows round-trip through export
and import).

Permissions, as in cosmos-sdk x/bank:
* `mint` / `burn`: the account's holder may create coins, or destroy coins the account holds, of the
  denoms under `denom_prefix` only (bank/9 otherwise);
* `staking`: the account holds bonds; only the staking capability moves it;
* `receive`: other module accounts may pay into it (a sink: no capability pays out of it today).
An account without `receive` takes coins only from users, through its own capability.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from chain.tx.address import module_address

MINT, BURN, STAKING, RECEIVE = "mint", "burn", "staking", "receive"


@dataclass(frozen=True)
class ModuleAccount:
    name: str
    holder: str                   # the chain package that obtains its capability (chain/<holder>/)
    permissions: frozenset[str]
    denom_prefix: str = ""        # mint and burn are limited to denoms that start with this
    address: bytes = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "address", module_address(self.name))

    def allows(self, permission: str, denom: str) -> bool:
        return permission in self.permissions and denom.startswith(self.denom_prefix)


MODULE_ACCOUNTS: tuple[ModuleAccount, ...] = (
    # tx fees (auth) and scoring fees of shard reveals (registry, through auth's capability)
    ModuleAccount("fee_collector", "auth", frozenset({RECEIVE})),
    # slashed bonds (validators) and forfeited deposits (rounds); nothing is burnt
    ModuleAccount("community_pool", "", frozenset({RECEIVE})),
    # active and unbonding bonds
    ModuleAccount("bonded_pool", "validators", frozenset({STAKING})),
    # every open model's unspent bounty and bond (rounds pays bounties and compensation with it)
    ModuleAccount("registry_escrow", "registry", frozenset()),
    # the deposit of every submission still held
    ModuleAccount("rounds_escrow", "rounds", frozenset()),
    # vouchers of withdrawals not yet released on the EVM chain; the bridge mints and burns vouchers
    ModuleAccount("bridge_escrow", "bridge", frozenset({MINT, BURN}), denom_prefix="bridge/"),
)

_BY_NAME = {a.name: a for a in MODULE_ACCOUNTS}
_BY_ADDRESS = {a.address: a for a in MODULE_ACCOUNTS}


def account(name: str) -> ModuleAccount:
    """The module account called `name`. An unknown name is a programming error, not a tx error."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"no module account {name!r}; see chain/bank/module_accounts.py") from None


def by_address(address: bytes) -> ModuleAccount | None:
    return _BY_ADDRESS.get(address)


def is_module_account(address: bytes) -> bool:
    return address in _BY_ADDRESS
