"""The SDK's coin parser (client/coins.py), which the SDK and the CLI share, agrees with the chain's denom
rule (chain/tx/coins.py validate_denom): "5" + denom parses to exactly that denom when, and only when,
the chain accepts the denom."""
import click
import pytest
from hypothesis import given, settings, strategies as st

from chain.tx.coins import validate_denom
from chain.tx.errors import InvalidDenom
from cli.common import parse_coins as cli_parse_coins
from client.coins import parse_coin, parse_coins
from client.errors import CoinFormatError, GradchainError
from client.owner import coin

DENOMS = ["ugrad", "uusdc", "abc", "ab", "a", "", "bridge/31337/0x" + "ab" * 20, "ibc/ABC", "Ugrad", "1abc",
          "_abc", "a-b.c:d/e_f", "a" * 128, "a" * 129, "ug rad", "ugräd", "ugrad\n", " ugrad", "u+grad", "u,grad"]


def chain_accepts(denom: str) -> bool:
    try:
        validate_denom(denom)
    except InvalidDenom:
        return False
    return True


def sdk_reads(denom: str) -> bool:
    """Whether "5<denom>" parses as 5 of exactly this denom."""
    try:
        return parse_coin("5" + denom) == (denom, 5)
    except CoinFormatError:
        return False


@pytest.mark.parametrize("denom", DENOMS)
def test_sdk_and_chain_agree_on_listed_denoms(denom):
    assert sdk_reads(denom) == chain_accepts(denom)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abzAZ09/:._-+ ,\tä", max_size=132))
def test_sdk_and_chain_agree_on_any_denom(denom):
    assert sdk_reads(denom) == chain_accepts(denom)


def test_parse_coins_and_its_messages():
    assert parse_coins("100ugrad, 5uusdc") == {"ugrad": 100, "uusdc": 5}
    assert parse_coin(" 7bridge/31337/0xab ") == ("bridge/31337/0xab", 7)
    with pytest.raises(CoinFormatError, match=r"^'lots' is not AMOUNTDENOM, e.g. 100ugrad$"):
        parse_coins("lots")
    with pytest.raises(CoinFormatError, match="^denom ugrad given twice$"):
        parse_coins("1ugrad,2ugrad")
    assert issubclass(CoinFormatError, GradchainError)


def test_cli_and_owner_use_the_same_parser():
    assert cli_parse_coins("100ugrad,5uusdc") == parse_coins("100ugrad,5uusdc")
    with pytest.raises(click.BadParameter, match=r"' x' is not AMOUNTDENOM, e.g. 100ugrad"):
        cli_parse_coins("1ugrad, x")
    with pytest.raises(click.BadParameter, match="denom ugrad given twice"):
        cli_parse_coins("1ugrad,2ugrad")
    assert str(coin("100ugrad")) == "100ugrad"
    with pytest.raises(CoinFormatError, match="AMOUNTDENOM"):
        coin("100UGRAD")
