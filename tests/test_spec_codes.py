"""The spec's code tables are the gateway's, character for character."""

from __future__ import annotations

import re

import pytest

from generator.model import ApiModel

from .conftest import SEED


def seed_codes() -> dict[int, str]:
    """Code -> message, read from the gateway's own page (its tables are normative)."""
    codes = {}
    for line in SEED.read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(r"\s*(-1\d{4}|1\d{4}|2\d{4})([A-Za-z].*?)\s*", line)
        if match:
            codes[int(match.group(1))] = match.group(2)
    return codes


@pytest.fixture(scope="module")
def seed() -> dict[int, str]:
    if not SEED.is_file():
        pytest.skip(f"the gateway's page is not beside the project ({SEED})")
    codes = seed_codes()
    assert len(codes) == 56, "the seed page has 56 codes; the parser above lost some"
    return codes


def test_every_seed_code_is_in_the_spec_with_its_exact_message(model: ApiModel, seed: dict[int, str]) -> None:
    spec_codes = {code.value: code.message for table in model.code_tables for code in table.codes}
    assert spec_codes == seed


def test_tables_split_as_the_seed_does(model: ApiModel) -> None:
    tables = {t.name: [c.value for c in t.codes] for t in model.code_tables}
    assert tables["ResultCode"] == [10000, *range(21000, 21029)]
    assert tables["RefundResultCode"] == list(range(21401, 21410))
    assert tables["VoidResultCode"] == list(range(21500, 21506))
    assert tables["FailedCode"] == list(range(-10000, -10011, -1))
    assert {t.name for t in model.code_tables if t.kind == "failed"} == {"FailedCode"}


def test_every_code_has_a_unique_upper_snake_name_within_its_table(model: ApiModel) -> None:
    for table in model.code_tables:
        names = [c.name for c in table.codes]
        assert len(set(names)) == len(names), table.name
        assert all(re.fullmatch(r"[A-Z][A-Z0-9_]*", n) for n in names), table.name


def test_every_refusal_belongs_to_a_family_and_families_name_real_codes(model: ApiModel) -> None:
    refusals = {c.value for c in model.result_codes()} - {10000}
    in_families = {code for family in model.families for code in family.codes}
    assert in_families == refusals
    assert set(model.retryable_codes) <= refusals


def test_operations_list_only_codes_the_tables_define(model: ApiModel) -> None:
    known = {c.value for c in model.result_codes()}
    for op in model.operations:
        assert set(op.result_codes) <= known, op.operation_id
        assert 10000 in op.result_codes


def test_transaction_status_is_the_seed_enum(model: ApiModel) -> None:
    assert model.schemas["TransactionStatus"]["enum"] == ["PENDING", "COMPLETED", "FAILED", "VOIDED"]


def test_every_country_has_a_currency_with_minor_units(model: ApiModel) -> None:
    countries = model.schemas["Country"]
    currencies = model.schemas["Currency"]
    markets = countries["x-markets"]
    assert set(markets) == set(countries["enum"])
    assert {"CN", "HK"} <= set(countries["enum"])
    for market in markets.values():
        assert market["currency"] in currencies["enum"]
        assert 0 < market["payIn"]["min"] < market["payIn"]["max"]
    assert set(currencies["x-minor-units"]) == set(currencies["enum"])
    assert {c for c, units in currencies["x-minor-units"].items() if units == 0} == {"IDR", "VND", "KRW", "JPY"}


def test_channel_tables_cover_every_code_and_serve_known_countries(model: ApiModel) -> None:
    countries = set(model.schemas["Country"]["enum"])
    for name in ("WalletCode", "BankCode", "TransferCode"):
        schema = model.schemas[name]
        assert set(schema["x-channels"]) == set(schema["enum"]), name
        assert len(schema["x-enum-descriptions"]) == len(schema["enum"]), name
        assert isinstance(schema["x-invalid-code"], int)
        for code, channel in schema["x-channels"].items():
            assert set(channel["countries"]) <= countries, (name, code)
