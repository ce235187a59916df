"""Every operation and notification carries what SDKs, docs and fuzzing need."""

from __future__ import annotations

import re
from pathlib import Path

from generator.model import ApiModel
from generator.validate import check_examples, iter_examples

EXPECTED = {"v1": (14, 4), "v2": (26, 5)}
SEED_NAME = re.compile(r"\((\d\.\d |\d\. )?[^()]*[\u4e00-\u9fff][^()]*\)$")


def test_operation_and_notification_counts(model: ApiModel) -> None:
    operations, notifications = EXPECTED[model.name]
    assert len(model.operations) == operations
    assert len(model.notifications) == notifications
    assert len({op.operation_id for op in model.operations}) == operations


def test_v1_is_modules_one_to_five(models: dict[str, ApiModel]) -> None:
    v1 = {op.operation_id for op in models["v1"].operations}
    v2 = {op.operation_id for op in models["v2"].operations}
    assert v1 < v2
    assert {op.tag for op in models["v1"].operations} == {"account", "cashier", "collection", "disbursement", "refund"}
    assert {op.tag for op in models["v2"].operations if op.operation_id not in v1} == {"authorization", "profitSharing"}


def test_every_operation_has_its_parts(model: ApiModel) -> None:
    for op in model.operations:
        assert op.path.startswith(f"/{model.name}/"), op.operation_id
        assert SEED_NAME.search(op.summary), f"{op.operation_id}: summary lacks the seed's Chinese name"
        assert len(op.description) > 40, op.operation_id
        assert op.request_examples and op.response_examples, op.operation_id
        assert op.data_schema in model.schemas, op.operation_id
        assert op.request_schema in model.schemas and op.response_schema in model.schemas


def test_sdk_methods_are_unique_within_a_module(model: ApiModel) -> None:
    for module in model.modules:
        methods = [op.sdk_method for op in module.operations]
        assert len(set(methods)) == len(methods), module.tag


def test_creates_link_to_what_follows_them(model: ApiModel) -> None:
    ids = {op.operation_id for op in model.operations}
    linked = {(op.operation_id, link.operation_id) for op in model.operations for link in op.links}
    wanted = {
        ("createCashierOrder", "queryCashierOrder"),
        ("createCashierOrder", "closeCashierOrder"),
        ("createCollection", "queryCollection"),
        ("createCollection", "closeCollection"),
        ("createCollection", "voidCollection"),
        ("createCollection", "createRefund"),
        ("createDisbursement", "queryDisbursement"),
        ("createRefund", "queryRefund"),
        ("createAuthorizationLink", "queryToken"),
        ("createAuthorizationLink", "cancelToken"),
        ("createSplit", "querySplit"),
        ("createSplit", "createSplitReturn"),
        ("createSplitReturn", "querySplitReturn"),
    }
    assert {pair for pair in wanted if {*pair} <= ids} <= linked
    for op in model.operations:
        for link in op.links:
            assert all(str(v).startswith("$response.body#/data/") for v in link.request_body.values()), link


def test_money_moving_creates_take_an_idempotency_id_in_v2_only(models: dict[str, ApiModel]) -> None:
    v2 = {op.operation_id for op in models["v2"].operations if op.idempotent}
    assert {"createCashierOrder", "createCollection", "createDisbursement", "createRefund", "createSplit"} <= v2
    assert not any(op.idempotent for op in models["v1"].operations)
    for op in models["v2"].operations:
        assert (21015 in op.result_codes) == op.idempotent, op.operation_id


def test_every_example_validates_against_its_schema(model: ApiModel) -> None:
    from generator.bundle import Bundle

    examples = list(iter_examples(model.document))
    assert len(examples) >= 2 * len(model.operations) + len(model.notifications)
    assert check_examples(Bundle(Path(model.name), model.document)) == []


def test_test_values_name_real_operations_and_codes(model: ApiModel) -> None:
    ids = {op.operation_id for op in model.operations}
    failed = {c.value for c in model.failed_codes()}
    reached = set()
    for value in model.test_values:
        assert set(value.operations) & ids, value
        for operation_id in set(value.operations) & ids:
            if value.effect == "respond":
                assert value.code in model.operation(operation_id).result_codes, (operation_id, value.code)
        reached.add(value.code)
    assert failed <= reached, "every failed code has a test value"


def test_schemas_digest_in_other_generators(model: ApiModel) -> None:
    """No property typed only null, every integer bounded, every enum named (checked by the loader)."""
    for name, schema in model.schemas.items():
        if schema.get("type") == "integer" and "enum" not in schema:
            assert "minimum" in schema and "maximum" in schema, name
