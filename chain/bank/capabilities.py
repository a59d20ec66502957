"""The narrow bank capabilities handed to each module, in the manner of cosmos-sdk x/distribution's
`expected_keepers.go`: a module states the little it needs of the bank and gets no more.

Each module obtains its capability once, as a module-level constant, and moves coins only through it:

    auth        FEES = fees()                        users -> fee_collector
    validators  STAKING = staking()                  users <-> bonded_pool -> community_pool
    registry    BANK = escrow("registry_escrow")     users <-> registry_escrow -> community_pool
    rounds      BANK = escrow("rounds_escrow")       users <-> rounds_escrow -> community_pool
    bridge      BANK = bridge()                      users <-> bridge_escrow; mints and burns bridge/ vouchers

A capability is bound to ONE module account (`chain.bank.module_accounts`): there is no argument that
names the account coins leave, so none can move another module's coins. Payments go to plain accounts
or to module accounts with the `receive` permission (community_pool, fee_collector); anything else is
refused at run time (bank/8), as is a payer that is a module account (bank/10). Mint and burn exist only
on the bridge's capability, and the bank checks the account's permission and denom at run time (bank/9).
tests/chain/test_module_accounts.py checks that each capability is obtained once, by its holder.
"""
from __future__ import annotations

from chain.bank import keeper, module_accounts
from chain.bank.module_accounts import RECEIVE, STAKING, ModuleAccount

Coins = list[tuple[str, int]]


class _Bound:
    def __init__(self, account: ModuleAccount):
        self.account = account
        self.name = account.name
        self.address = account.address

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class Escrow(_Bound):
    """Holds coins for one module: takes them from users, pays them out to users or to a sink."""

    def collect(self, state, payer: bytes, coins: Coins) -> None:
        """Move coins from a user's account into this escrow."""
        keeper.send_coins_from_account_to_module(state, payer, self.name, coins)

    def pay(self, state, recipient: bytes, coins: Coins) -> None:
        """Move coins out of this escrow to a plain account or to a module account with `receive`."""
        keeper.send_coins_from_module(state, self.name, recipient, coins)


class FeeCollector(_Bound):
    """Charges users into fee_collector. Nothing pays out of it."""

    def collect(self, state, payer: bytes, coins: Coins) -> None:
        keeper.send_coins_from_account_to_module(state, payer, self.name, coins)


class Staking(_Bound):
    """The bonded pool: bonds in, released bonds out, slashed bonds to community_pool."""

    def bond(self, state, operator: bytes, coins: Coins) -> None:
        keeper.send_coins_from_account_to_module(state, operator, self.name, coins)

    def release(self, state, operator: bytes, coins: Coins) -> None:
        keeper.send_coins_from_module(state, self.name, operator, coins)

    def slash(self, state, coins: Coins) -> None:
        keeper.send_coins_from_module(state, self.name, module_accounts.account("community_pool").address, coins)


class BridgeBank(Escrow):
    """The bridge escrow, plus minting vouchers for locked tokens and burning released ones."""

    def mint(self, state, recipient: bytes, denom: str, amount: int) -> None:
        """New vouchers straight to `recipient`; the bank checks `mint` and the denom (bank/9)."""
        keeper.mint_coins(state, self.name, denom, amount, to=recipient)

    def burn(self, state, denom: str, amount: int) -> None:
        """Destroy vouchers this escrow holds; the bank checks `burn` and the denom (bank/9)."""
        keeper.burn_coins(state, self.name, denom, amount)


def escrow(name: str) -> Escrow:
    """The escrow capability of module account `name` (not a staking account, not a sink)."""
    account = module_accounts.account(name)
    if account.permissions & {STAKING, RECEIVE}:
        raise ValueError(f"{name} is not an escrow: use staking() for bonded_pool, fees() for fee_collector")
    return Escrow(account)


def fees() -> FeeCollector:
    return FeeCollector(module_accounts.account("fee_collector"))


def staking() -> Staking:
    return Staking(module_accounts.account("bonded_pool"))


def bridge() -> BridgeBank:
    return BridgeBank(module_accounts.account("bridge_escrow"))
