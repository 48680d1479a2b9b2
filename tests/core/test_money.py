"""Rules for exact money: minor-unit integers, Babel-driven currencies, no floats, no rounding."""

from __future__ import annotations

import json
import re
import time
from decimal import Decimal

import pytest
from babel.numbers import list_currencies
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from ledgerline.core.money import (
    AMOUNT_PATTERN,
    MAX_FRACTION_DIGITS,
    MAX_MAJOR_UNITS,
    Amount,
    MoneyError,
    format_amount,
    max_minor,
    minor_digits,
    normalize_currency,
    parse_amount,
    to_minor,
)

SAMPLE_CURRENCIES = [
    c for c in ("USD", "EUR", "JPY", "KWD", "BHD", "CLF", "GBP") if c in list_currencies()
]
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)
AMOUNT = TypeAdapter(Amount)


@st.composite
def currency_and_minor(draw: st.DrawFn) -> tuple[str, int]:
    currency = draw(st.sampled_from(SAMPLE_CURRENCIES))
    return currency, draw(st.integers(min_value=1, max_value=max_minor(currency)))


def rejects(value: object, currency: str, message: str) -> None:
    with pytest.raises(MoneyError, match=re.escape(message)):
        parse_amount(value, currency)


class TestCurrencyCodes:
    def test_codes_are_stripped_and_uppercased(self) -> None:
        assert normalize_currency("  usd ") == "USD"
        assert normalize_currency("Jpy") == "JPY"

    @pytest.mark.parametrize("code", ["", "   ", "US", "USDX", "ZZZ", "U$D", "12A", "US D", "ÜSD"])
    def test_unknown_or_malformed_codes_are_rejected(self, code: str) -> None:
        with pytest.raises(MoneyError, match="is not a known ISO 4217 currency code"):
            normalize_currency(code)

    def test_non_string_code_is_rejected(self) -> None:
        with pytest.raises(MoneyError):
            normalize_currency(840)  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        ("currency", "digits"),
        [("USD", 2), ("EUR", 2), ("GBP", 2), ("JPY", 0), ("KWD", 3), ("BHD", 3), ("usd", 2)],
    )
    def test_minor_digits_come_from_cldr(self, currency: str, digits: int) -> None:
        assert minor_digits(currency) == digits

    def test_minor_digits_refuses_unknown_codes_instead_of_babels_default(self) -> None:
        with pytest.raises(MoneyError):
            minor_digits("ZZZ")

    def test_minor_digits_is_cached(self) -> None:
        minor_digits("EUR")
        hits = minor_digits.cache_info().hits
        minor_digits("EUR")
        assert minor_digits.cache_info().hits == hits + 1

    def test_money_error_is_a_value_error(self) -> None:
        assert issubclass(MoneyError, ValueError)


class TestLimits:
    @pytest.mark.parametrize(
        ("currency", "text"),
        [("USD", "999999999999.99"), ("JPY", "999999999999"), ("KWD", "999999999999.999")],
    )
    def test_max_is_max_major_units_plus_largest_fraction(self, currency: str, text: str) -> None:
        assert format_amount(max_minor(currency), currency) == text
        assert parse_amount(text, currency) == max_minor(currency)

    def test_one_minor_unit_over_the_max_is_rejected(self) -> None:
        rejects("1000000000000", "USD", "must be at most 999999999999.99")
        rejects("1000000000000.00", "USD", "must be at most 999999999999.99")
        rejects(MAX_MAJOR_UNITS + 1, "JPY", "must be at most 999999999999")

    def test_amount_fraction_bound_covers_every_known_currency(self) -> None:
        assert max(minor_digits(c) for c in list_currencies()) == MAX_FRACTION_DIGITS
        assert MAX_FRACTION_DIGITS >= 3


class TestFormatAmount:
    @pytest.mark.parametrize(
        ("minor", "currency", "text"),
        [
            (123450, "USD", "1234.50"),
            (5, "USD", "0.05"),
            (0, "USD", "0.00"),
            (1000, "JPY", "1000"),
            (1, "KWD", "0.001"),
            (-1234, "USD", "-12.34"),
            (-5, "USD", "-0.05"),
            (-7, "JPY", "-7"),
        ],
    )
    def test_exactly_the_currency_decimals(self, minor: int, currency: str, text: str) -> None:
        assert format_amount(minor, currency) == text

    def test_sums_beyond_64_bits_are_formatted_exactly(self) -> None:
        total = 2**64 * 100 + 7
        assert format_amount(total, "USD") == f"{2**64}.07"
        assert format_amount(-total, "USD") == f"-{2**64}.07"

    def test_bool_is_not_an_amount(self) -> None:
        with pytest.raises(TypeError):
            format_amount(True, "USD")


class TestParseAmountAccepts:
    @pytest.mark.parametrize(
        ("value", "currency", "minor"),
        [
            ("1234.50", "USD", 123450),
            ("1234.5", "USD", 123450),
            ("  12.34\n", "USD", 1234),
            ("10.100", "USD", 1010),
            ("10.10000000000000000000000000000000000", "USD", 1010),
            ("007.5", "USD", 750),
            ("1.5e2", "USD", 15000),
            ("1500E-3", "USD", 150),
            ("0.001", "KWD", 1),
            ("12.34", "usd", 1234),
            (1000, "JPY", 1000),
            (1, "USD", 100),
            ("5.0", "JPY", 5),
            (Decimal("1234.50"), "USD", 123450),
            (Decimal("1.5E+2"), "JPY", 150),
            (Decimal("10.100"), "USD", 1010),
        ],
    )
    def test_exact_values_convert_to_minor_units(
        self, value: object, currency: str, minor: int
    ) -> None:
        assert parse_amount(value, currency) == minor


class TestParseAmountRejects:
    @pytest.mark.parametrize(
        "value", [True, False, 10.5, 10.0, None, [1], {"amount": "1"}, b"10", object()]
    )
    def test_non_decimal_types_including_float_and_bool(self, value: object) -> None:
        rejects(value, "USD", "must be a decimal string or number")

    @pytest.mark.parametrize(
        "value",
        [
            "NaN",
            "nan",
            "Infinity",
            "-Infinity",
            "inf",
            "sNaN",
            "",
            "   ",
            "abc",
            "1,000.00",
            "1_000",
            "+5",
            ".5",
            "5.",
            "1e",
            "1.2.3",
            "--1",
            "١٢",
            "12 34",
            "0x10",
            Decimal("NaN"),
            Decimal("sNaN"),
            Decimal("Infinity"),
            Decimal("-Infinity"),
        ],
    )
    def test_text_that_is_not_a_plain_decimal(self, value: object) -> None:
        rejects(value, "USD", "must be a decimal number")

    @pytest.mark.parametrize(
        "value",
        ["0", "0.00", "-0", "-1", "-12.34", "-1e999999999", 0, -5, Decimal("0E-10"), Decimal("-1")],
    )
    def test_zero_and_negative(self, value: object) -> None:
        rejects(value, "USD", "must be greater than 0")

    @pytest.mark.parametrize(
        ("value", "currency", "message"),
        [
            ("10.001", "USD", "has more decimals than USD allows (2)"),
            (Decimal("10.0000000000000001"), "USD", "has more decimals than USD allows (2)"),
            ("10.0000000000000001", "USD", "has more decimals than USD allows (2)"),
            ("0.5", "JPY", "has more decimals than JPY allows (0)"),
            ("0.0001", "KWD", "has more decimals than KWD allows (3)"),
            ("15e-3", "USD", "has more decimals than USD allows (2)"),
        ],
    )
    def test_excess_decimals_are_rejected_not_rounded(
        self, value: object, currency: str, message: str
    ) -> None:
        rejects(value, currency, message)

    def test_unknown_currency(self) -> None:
        rejects("1", "ZZZ", "is not a known ISO 4217 currency code")


class TestAbsurdInputsFailFast:
    @pytest.mark.parametrize(
        ("value", "message"),
        [
            pytest.param("1e999999999", "must be at most", id="huge-exponent"),
            pytest.param("1e-999999999", "has more decimals", id="tiny-exponent"),
            pytest.param("1e" + "9" * 10_000, "must be at most", id="exponent-10k-digits"),
            pytest.param("1e-" + "9" * 10_000, "has more decimals", id="neg-exponent-10k-digits"),
            pytest.param("0e" + "9" * 10_000, "must be greater than 0", id="zero-huge-exponent"),
            pytest.param(Decimal("1e999999999"), "must be at most", id="decimal-huge-exponent"),
            pytest.param(Decimal("1e-999999999"), "has more decimals", id="decimal-tiny-exponent"),
            pytest.param(10**10_000, "must be at most", id="int-10k-digits"),
            pytest.param(-(10**10_000), "must be greater than 0", id="negative-int-10k-digits"),
            pytest.param("9" * 100_000, "must be at most", id="text-100k-digits"),
            pytest.param("1." + "1" * 100_000, "has more decimals", id="fraction-100k-digits"),
        ],
    )
    def test_huge_exponents_and_digit_strings(self, value: object, message: str) -> None:
        started = time.perf_counter()
        rejects(value, "USD", message)
        assert time.perf_counter() - started < 0.5


class TestRoundTripProperties:
    @PROPERTY_SETTINGS
    @given(currency_and_minor())
    def test_text_round_trips(self, case: tuple[str, int]) -> None:
        currency, minor = case
        assert parse_amount(format_amount(minor, currency), currency) == minor

    @PROPERTY_SETTINGS
    @given(currency_and_minor())
    def test_decimal_and_json_number_round_trip(self, case: tuple[str, int]) -> None:
        currency, minor = case
        text = format_amount(minor, currency)
        assert parse_amount(Decimal(text), currency) == minor
        assert to_minor(Decimal(text), currency) == minor
        from_json = json.loads(f'{{"amount": {text}}}', parse_float=Decimal)["amount"]
        assert parse_amount(from_json, currency) == minor

    @PROPERTY_SETTINGS
    @given(
        st.sampled_from(SAMPLE_CURRENCIES),
        st.integers(min_value=0, max_value=10**17),
        st.integers(min_value=1, max_value=9),
    )
    def test_one_decimal_too_many_is_rejected(self, currency: str, minor: int, digit: int) -> None:
        minor %= max_minor(currency) + 1
        text = format_amount(minor, currency)
        text += ("." if minor_digits(currency) == 0 else "") + str(digit)
        for value in (text, Decimal(text)):
            rejects(value, currency, f"has more decimals than {currency} allows")

    @PROPERTY_SETTINGS
    @given(currency_and_minor())
    def test_zero_and_negative_are_rejected(self, case: tuple[str, int]) -> None:
        currency, minor = case
        for value in (format_amount(-minor, currency), Decimal(format_amount(-minor, currency))):
            rejects(value, currency, "must be greater than 0")
        rejects(format_amount(0, currency), currency, "must be greater than 0")

    @PROPERTY_SETTINGS
    @given(st.sampled_from(SAMPLE_CURRENCIES), st.integers(min_value=1, max_value=10**20))
    def test_over_max_is_rejected(self, currency: str, excess: int) -> None:
        text = format_amount(max_minor(currency) + excess, currency)
        for value in (text, Decimal(text)):
            rejects(value, currency, "must be at most")


class TestAmountType:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("12.34", Decimal("12.34")),
            (Decimal("12.34"), Decimal("12.34")),
            (12, Decimal(12)),
            (" 12.340 ", Decimal("12.34")),
            ("1.5e2", Decimal(150)),
            ("999999999999.9999", Decimal("999999999999.9999")),
        ],
    )
    def test_accepts_exact_positive_values(self, value: object, expected: Decimal) -> None:
        result = AMOUNT.validate_python(value)
        assert isinstance(result, Decimal)
        assert result == expected

    def test_result_has_no_positive_exponent(self) -> None:
        assert str(AMOUNT.validate_python("1.5e2")) == "150"

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            (True, "must be a decimal string or number"),
            (12.5, "must be a decimal string or number"),
            (None, "must be a decimal string or number"),
            ("abc", "must be a decimal number"),
            (Decimal("NaN"), "must be a decimal number"),
            ("0", "must be greater than 0"),
            ("-1", "must be greater than 0"),
            ("1.00001", "has more decimals than any currency allows"),
            ("1000000000000", "must be at most"),
        ],
    )
    def test_rejects_with_user_facing_message(self, value: object, message: str) -> None:
        with pytest.raises(ValidationError) as excinfo:
            AMOUNT.validate_python(value)
        (error,) = excinfo.value.errors()
        assert error["msg"].startswith(f"Value error, {message}")

    def test_json_number_parsed_as_decimal_is_never_rounded(self) -> None:
        value = json.loads('{"a": 10.0000000000000001}', parse_float=Decimal)["a"]
        with pytest.raises(ValidationError, match="has more decimals than any currency allows"):
            AMOUNT.validate_python(value)
        accepted = AMOUNT.validate_python(json.loads('{"a": 10.001}', parse_float=Decimal)["a"])
        with pytest.raises(MoneyError, match=re.escape("has more decimals than USD allows (2)")):
            to_minor(accepted, "USD")

    def test_to_minor_applies_the_currency_rules(self) -> None:
        assert to_minor(AMOUNT.validate_python("12.34"), "USD") == 1234
        with pytest.raises(MoneyError, match="JPY"):
            to_minor(AMOUNT.validate_python("12.34"), "JPY")

    def test_json_schema_publishes_the_pattern(self) -> None:
        schema = AMOUNT.json_schema()
        variants = {variant["type"]: variant for variant in schema["anyOf"]}
        assert variants["string"]["pattern"] == AMOUNT_PATTERN
        assert variants["number"]["exclusiveMinimum"] == 0

    @PROPERTY_SETTINGS
    @given(st.from_regex(AMOUNT_PATTERN))
    def test_every_string_matching_the_pattern_is_accepted(self, text: str) -> None:
        assert AMOUNT.validate_python(text) > 0

    @PROPERTY_SETTINGS
    @given(
        st.one_of(
            st.from_regex(r"\A[ ]?-?[0-9]{1,14}(\.[0-9]{1,7})?[ ]?\Z"),
            st.text(alphabet="0123456789.- \t", max_size=20),
        )
    )
    def test_pattern_matches_exactly_the_plain_strings_accepted(self, text: str) -> None:
        try:
            AMOUNT.validate_python(text)
        except ValidationError:
            accepted = False
        else:
            accepted = True
        assert (re.search(AMOUNT_PATTERN, text) is not None) == accepted
