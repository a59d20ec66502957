"""The only way into bank keys.

Reads (`balance`, `balances`, `supply`, `all_supply`, `validate_send`) are for everyone. Everything
that writes is bank-internal: other modules hold the narrow capabilities of `chain.bank.capabilities`,
built on the permission-checked functions below (in the manner of cosmos-sdk x/bank's `MintCoins`,
`SendCoinsFromModuleToAccount`, ...), which check the table `chain.bank.module_accounts` at run time.
Genesis import alone credits balances directly (`genesis_mint`). tests/chain/test_module_accounts.py
checks that no module outside chain/bank calls a write function.
"""
from __future__ import annotations

from chain.bank import keys, module_accounts
from chain.codec import decode_uint, encode_uint
from chain.bank.errors import (InsufficientFunds, MissingPermission, ModuleAccountRecipient, ModuleAccountSender,
                               SupplyOverflow)
from chain.store.kv import prefix_end
from chain.tx.address import to_bech32
from chain.tx.coins import MAX_AMOUNT


def balance(state, address: bytes, denom: str) -> int:
    raw = state.get(keys.balance_key(address, denom))
    return decode_uint(raw) if raw is not None else 0


def balances(state, address: bytes) -> list[tuple[str, int]]:
    prefix = keys.balances_prefix(address)
    return [(k[len(prefix):].decode(), decode_uint(v)) for k, v in state.iterate(prefix, prefix_end(prefix))]


def supply(state, denom: str) -> int:
    raw = state.get(keys.supply_key(denom))
    return decode_uint(raw) if raw is not None else 0


def all_supply(state) -> list[tuple[str, int]]:
    return [(k[len(keys.SUPPLY):].decode(), decode_uint(v))
            for k, v in state.iterate(keys.SUPPLY, prefix_end(keys.SUPPLY))]


def _set_balance(state, address: bytes, denom: str, amount: int) -> None:
    key = keys.balance_key(address, denom)
    if amount == 0:
        state.delete(key)  # zero balances are not stored
    else:
        state.set(key, encode_uint(amount))


def validate_send(state, sender: bytes, coins: list[tuple[str, int]]) -> None:
    for denom, amount in coins:
        have = balance(state, sender, denom)
        if have < amount:
            raise InsufficientFunds(f"insufficient {denom}: have {have}, need {amount}")


# --- raw writes: bank-internal, no permission checks ------------------------------------------------
def _send(state, sender: bytes, recipient: bytes, coins: list[tuple[str, int]]) -> None:
    """Move coins; checks everything first, then writes. Supply is unchanged."""
    if len(coins) == 1:  # a fee, most sends: the sender's balance is read once
        denom, amount = coins[0]
        have = balance(state, sender, denom)
        if have < amount:
            raise InsufficientFunds(f"insufficient {denom}: have {have}, need {amount}")
        _set_balance(state, sender, denom, have - amount)
        _set_balance(state, recipient, denom, balance(state, recipient, denom) + amount)
        return
    validate_send(state, sender, coins)
    for denom, amount in coins:
        _set_balance(state, sender, denom, balance(state, sender, denom) - amount)
        # recipient's balance <= supply <= MAX_AMOUNT, so this cannot overflow
        _set_balance(state, recipient, denom, balance(state, recipient, denom) + amount)


def _mint(state, recipient: bytes, denom: str, amount: int) -> None:
    """Create new coins."""
    new_supply = supply(state, denom) + amount
    if new_supply > MAX_AMOUNT:
        raise SupplyOverflow(f"total supply of {denom} would exceed 2**256-1")
    state.set(keys.supply_key(denom), encode_uint(new_supply))
    _set_balance(state, recipient, denom, balance(state, recipient, denom) + amount)


def _burn(state, holder: bytes, denom: str, amount: int) -> None:
    """Destroy coins `holder` owns."""
    have = balance(state, holder, denom)
    if have < amount:
        raise InsufficientFunds(f"cannot burn {amount}{denom}: holder has {have}")
    remaining = supply(state, denom) - amount
    if remaining:
        state.set(keys.supply_key(denom), encode_uint(remaining))
    else:
        state.delete(keys.supply_key(denom))
    _set_balance(state, holder, denom, have - amount)


def genesis_mint(state, address: bytes, denom: str, amount: int) -> None:
    """Genesis import only (chain/genesis.py): the initial balances, module accounts included."""
    _mint(state, address, denom, amount)


# --- permission-checked writes: what chain.bank.capabilities is built on ----------------------------
def check_recipient(recipient: bytes) -> None:
    """A plain account, or a module account that takes payments from other modules (`receive`)."""
    target = module_accounts.by_address(recipient)
    if target is not None and module_accounts.RECEIVE not in target.permissions:
        raise ModuleAccountRecipient(f"module account {target.name} takes coins only through the {target.holder} "
                                     f"module")


def check_payer(payer: bytes) -> None:
    target = module_accounts.by_address(payer)
    if target is not None:
        raise ModuleAccountSender(f"coins leave module account {target.name} only through its own capability")


def send_coins(state, sender: bytes, recipient: bytes, coins: list[tuple[str, int]]) -> None:
    """Account to account (MsgSend): a module account is never the recipient."""
    target = module_accounts.by_address(recipient)
    if target is not None:
        raise ModuleAccountRecipient(f"a plain send to a module account is refused: {to_bech32(recipient)} is "
                                     f"{target.name}")
    check_payer(sender)
    _send(state, sender, recipient, coins)


def send_coins_from_account_to_module(state, sender: bytes, module: str, coins: list[tuple[str, int]]) -> None:
    check_payer(sender)
    _send(state, sender, module_accounts.account(module).address, coins)


def send_coins_from_module(state, module: str, recipient: bytes, coins: list[tuple[str, int]]) -> None:
    """Out of `module`'s account to a plain account or to a module account with `receive`."""
    check_recipient(recipient)
    _send(state, module_accounts.account(module).address, recipient, coins)


def _require(module: str, permission: str, denom: str) -> bytes:
    account = module_accounts.account(module)
    if not account.allows(permission, denom):
        scope = f" for denoms under {account.denom_prefix!r}" if permission in account.permissions else ""
        raise MissingPermission(f"module account {module} lacks the {permission} permission{scope}: cannot "
                                f"{permission} {denom}")
    return account.address


def mint_coins(state, module: str, denom: str, amount: int, to: bytes | None = None) -> None:
    """Create coins as `module`, which must hold `mint` for the denom. They go to the module account, or
    straight to `to` (the same as minting to the module account and paying on, in one write)."""
    address = _require(module, module_accounts.MINT, denom)
    if to is not None:
        check_recipient(to)
    _mint(state, address if to is None else to, denom, amount)


def burn_coins(state, module: str, denom: str, amount: int) -> None:
    """Destroy coins `module`'s account holds; it must hold `burn` for the denom."""
    _burn(state, _require(module, module_accounts.BURN, denom), denom, amount)
