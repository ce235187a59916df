"""`payspec diff`: each kind of change found and classified as a client meets it.

Pairs are crafted from the real v2 spec: its bundled document is copied and
edited in memory, and both sides are modelled as the toolkit models any spec.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from generator.bundle import Bundle
from generator.diff import STRICT, Change, diff
from generator.model import ApiModel, build_model

from .conftest import ROOT

Edit = Callable[[dict[str, Any]], None]


def _model(document: dict[str, Any], name: str = "v2") -> ApiModel:
    problems: list[Any] = []
    model = build_model(name, Bundle(Path("openapi.json"), document), problems)
    assert model is not None and not problems, problems
    return model


def _changed(models: dict[str, ApiModel], edit: Edit) -> list[Change]:
    document = copy.deepcopy(models["v2"].document)
    edit(document)
    return diff(_model(copy.deepcopy(models["v2"].document)), _model(document))


def _one(changes: list[Change], subject: str, action: str, target: str) -> Change:
    found = [c for c in changes if c.subject == subject and c.action == action and c.target == target]
    assert len(found) == 1, "\n".join(f"{c.subject} {c.action} {c.target}" for c in changes)
    return found[0]


def _schemas(document: dict[str, Any]) -> dict[str, Any]:
    return document["components"]["schemas"]  # type: ignore[no-any-return]


def _post(document: dict[str, Any], operation_id: str) -> dict[str, Any]:
    for item in document["paths"].values():
        if item.get("post", {}).get("operationId") == operation_id:
            return item["post"]  # type: ignore[no-any-return]
    raise KeyError(operation_id)


def _path_of(document: dict[str, Any], operation_id: str) -> str:
    return next(p for p, item in document["paths"].items() if item["post"]["operationId"] == operation_id)


def _business(document: dict[str, Any], schema: str) -> dict[str, Any]:
    """The inline object part of a v2 allOf schema (the fields v2 adds)."""
    return next(p for p in _schemas(document)[schema]["allOf"] if "properties" in p)  # type: ignore[no-any-return]


def test_an_unchanged_pair_reports_nothing(models: dict[str, ApiModel]) -> None:
    for model in models.values():
        assert diff(model, _model(copy.deepcopy(model.document), model.name)) == []


# Operations


def test_a_removed_operation_is_breaking(models: dict[str, ApiModel]) -> None:
    def edit(doc: dict[str, Any]) -> None:
        del doc["paths"][_path_of(doc, "voidCollection")]

    change = _one(_changed(models, edit), "operation", "removed", "voidCollection")
    assert change.breaking


def test_a_new_operation_is_not_breaking(models: dict[str, ApiModel]) -> None:
    def edit(doc: dict[str, Any]) -> None:
        item = copy.deepcopy(doc["paths"][_path_of(doc, "queryCollection")])
        item["post"]["operationId"] = "queryCollectionAgain"
        doc["paths"]["/v2/collection/query-again"] = item

    changes = _changed(models, edit)
    assert not _one(changes, "operation", "added", "queryCollectionAgain").breaking
    assert [c for c in changes if c.breaking] == []


def test_a_path_change_is_breaking(models: dict[str, ApiModel]) -> None:
    def edit(doc: dict[str, Any]) -> None:
        old = _path_of(doc, "queryCollection")
        doc["paths"] = {("/v2/collection/status" if p == old else p): item for p, item in doc["paths"].items()}

    change = _one(_changed(models, edit), "path", "changed", "queryCollection")
    assert change.breaking and "/v2/collection/status" in change.detail


def test_the_version_prefix_alone_is_not_a_path_change(models: dict[str, ApiModel]) -> None:
    changes = diff(models["v1"], models["v2"])
    prefix = _one(changes, "path prefix", "changed", "every operation")
    assert not prefix.breaking and "/v1/" in prefix.detail and "/v2/" in prefix.detail
    assert [c for c in changes if c.subject == "path"] == []


# Fields


def test_a_removed_response_field_is_breaking(models: dict[str, ApiModel]) -> None:
    def edit(doc: dict[str, Any]) -> None:
        base = _schemas(doc)["CollectionBase"]
        del base["properties"]["expireTime"]
        base["required"].remove("expireTime")

    changes = _changed(models, edit)
    for op in ("createCollection", "queryCollection", "closeCollection"):
        assert _one(changes, "response field", "removed", f"{op} data.expireTime").breaking


def test_a_new_response_field_is_not_breaking(models: dict[str, ApiModel]) -> None:
    def edit(doc: dict[str, Any]) -> None:
        _business(doc, "Collection")["properties"]["settledTime"] = {"type": "string", "maxLength": 19}

    changes = _changed(models, edit)
    assert not _one(changes, "response field", "added", "queryCollection data.settledTime").breaking
    assert not any(c.breaking for c in changes)


@pytest.mark.parametrize(
    ("field", "schema", "detail"),
    [
        ("expireMinutes", {"type": "string"}, "integer (int32) → string"),
        ("amount", {"type": "integer", "format": "int32"}, "integer (int64) → integer (int32)"),
        ("currency", {"$ref": "#/components/schemas/Country"}, "enum Currency → enum Country"),
    ],
    ids=["type", "format", "enum-ref"],
)
def test_a_retyped_field_is_breaking(
    models: dict[str, ApiModel], field: str, schema: dict[str, Any], detail: str
) -> None:
    def edit(doc: dict[str, Any]) -> None:
        _schemas(doc)["CollectionCreateBaseParams"]["properties"][field] = schema

    change = _one(_changed(models, edit), "request field", "changed", f"createCollection {field}")
    assert change.breaking and detail in change.detail


def test_a_new_required_request_field_is_breaking(models: dict[str, ApiModel]) -> None:
    def edit(doc: dict[str, Any]) -> None:
        part = _business(doc, "CollectionCreateParams")
        part["properties"]["purpose"] = {"type": "string", "maxLength": 64}
        part["required"] = ["purpose"]

    assert _one(_changed(models, edit), "request field", "added", "createCollection purpose").breaking


def test_a_new_optional_request_field_is_not_breaking(models: dict[str, ApiModel]) -> None:
    def edit(doc: dict[str, Any]) -> None:
        _business(doc, "CollectionCreateParams")["properties"]["purpose"] = {"type": "string", "maxLength": 64}

    assert not _one(_changed(models, edit), "request field", "added", "createCollection purpose").breaking


def test_required_ness_changes_are_classified_by_side(models: dict[str, ApiModel]) -> None:
    def edit(doc: dict[str, Any]) -> None:
        _schemas(doc)["CollectionCreateBaseParams"]["required"].append("remark")
        _schemas(doc)["CollectionCreateBaseParams"]["required"].remove("productName")
        _schemas(doc)["CollectionBase"]["required"].remove("expireTime")

    changes = _changed(models, edit)
    made_required = _one(changes, "request field", "changed", "createCollection remark")
    assert made_required.breaking and made_required.detail == "optional → required"
    assert not _one(changes, "request field", "changed", "createCollection productName").breaking
    assert _one(changes, "response field", "changed", "queryCollection data.expireTime").breaking


def test_nested_fields_are_compared_through_arrays(models: dict[str, ApiModel]) -> None:
    def edit(doc: dict[str, Any]) -> None:
        del _schemas(doc)["SplitShare"]["properties"]["description"]

    changes = _changed(models, edit)
    removed = _one(changes, "request field", "removed", "createSplit receivers[].description")
    assert removed.breaking


# Enum values


def test_enum_values_are_classified_by_where_the_enum_is_used(models: dict[str, ApiModel]) -> None:
    def edit(doc: dict[str, Any]) -> None:
        for name, value in (("ReconciliationDelivery", "EMAIL"), ("TransactionStatus", "REFUNDED")):
            schema = _schemas(doc)[name]
            schema["enum"].append(value)
            schema["x-enum-varnames"].append(value)
            schema["x-enum-descriptions"].append(value.title())

    changes = _changed(models, edit)
    assert not _one(changes, "enum value", "added", "ReconciliationDelivery EMAIL").breaking  # request only
    widened = _one(changes, "enum value", "added", "TransactionStatus REFUNDED")  # responses only
    assert widened.breaking and widened.reason == STRICT


def test_an_enum_narrowed_in_requests_is_breaking_and_in_responses_is_not(models: dict[str, ApiModel]) -> None:
    def edit(doc: dict[str, Any]) -> None:
        for name in ("ReconciliationDelivery", "TransactionStatus"):
            schema = _schemas(doc)[name]
            for key in ("enum", "x-enum-varnames", "x-enum-descriptions"):
                schema[key].pop()

    changes = _changed(models, edit)
    last_delivery = models["v2"].schemas["ReconciliationDelivery"]["enum"][-1]
    last_status = models["v2"].schemas["TransactionStatus"]["enum"][-1]
    assert _one(changes, "enum value", "removed", f"ReconciliationDelivery {last_delivery}").breaking
    assert not _one(changes, "enum value", "removed", f"TransactionStatus {last_status}").breaking


# Types


def test_types_added_removed_and_retyped(models: dict[str, ApiModel]) -> None:
    def edit(doc: dict[str, Any]) -> None:
        _schemas(doc)["SettlementBatch"] = {"title": "SettlementBatch", "type": "object", "properties": {}}
        _schemas(doc)["Text"] = {**_schemas(doc)["Text"], "type": "integer"}

    document = copy.deepcopy(models["v2"].document)
    edit(document)
    changes = diff(models["v2"], _model(document))
    assert not _one(changes, "type", "added", "SettlementBatch").breaking
    assert _one(changes, "type", "changed", "Text").breaking
    assert _one(diff(_model(document), models["v2"]), "type", "removed", "SettlementBatch").breaking


def test_a_narrowed_bound_on_a_request_type_is_breaking(models: dict[str, ApiModel]) -> None:
    def edit(doc: dict[str, Any]) -> None:
        _schemas(doc)["Amount"]["maximum"] = 1000

    change = _one(_changed(models, edit), "type", "changed", "Amount")
    assert change.breaking and "maximum" in change.detail


# Codes


def test_codes_an_operation_may_answer_are_listed_not_breaking(models: dict[str, ApiModel]) -> None:
    def edit(doc: dict[str, Any]) -> None:
        _post(doc, "queryCollection")["x-result-codes"].append(21022)

    change = _one(_changed(models, edit), "operation code", "added", "queryCollection 21022")
    assert not change.breaking
    assert models["v2"].code(21022).message in change.detail


def test_code_tables_new_code_is_compatible_new_message_is_breaking(models: dict[str, ApiModel]) -> None:
    def edit(doc: dict[str, Any]) -> None:
        table = _schemas(doc)["ResultCode"]
        table["enum"].append(21029)
        table["x-enum-varnames"].append("SETTLEMENT_PENDING")
        table["x-enum-descriptions"].append("Settlement pending")
        table["maximum"] = 21029
        index = table["enum"].index(21007)
        table["x-enum-descriptions"][index] = "Merchant order id already used"

    changes = _changed(models, edit)
    assert not _one(changes, "code", "added", "ResultCode 21029").breaking
    message = _one(changes, "code message", "changed", "ResultCode 21007")
    assert message.breaking and "Merchant order id already used" in message.detail


# Notifications and signing


def test_notifications_removed_and_their_fields(models: dict[str, ApiModel]) -> None:
    def edit(doc: dict[str, Any]) -> None:
        del doc["webhooks"]["authorizationResult"]
        _schemas(doc)["RefundResult"]["properties"]["reason"] = {"type": "string", "maxLength": 128}
        del _schemas(doc)["CollectionResult"]["properties"]["remark"]

    changes = _changed(models, edit)
    assert _one(changes, "notification", "removed", "authorizationResultNotification").breaking
    assert not _one(changes, "notification field", "added", "refundResultNotification reason").breaking
    assert _one(changes, "notification field", "removed", "collectionResultNotification remark").breaking


def test_any_signing_change_is_breaking(models: dict[str, ApiModel]) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["x-signature"]["timestamp"]["toleranceSeconds"] = 600
        doc["x-signature"]["description"] += " Reworded."

    changes = _changed(models, edit)
    change = _one(changes, "x-signature", "changed", "timestamp.toleranceSeconds")
    assert change.breaking and "300" in change.detail and "600" in change.detail
    assert [c.target for c in changes] == ["timestamp.toleranceSeconds"]  # prose is not the scheme


# The real change: v1 -> v2


def test_the_v1_to_v2_changelog_names_what_v2_changed(models: dict[str, ApiModel]) -> None:
    changes = diff(models["v1"], models["v2"])
    signing = {c.target: c for c in changes if c.subject == "x-signature"}
    assert {"algorithm", "canonicalization", "signs.responses"} <= signing.keys()
    assert all(c.breaking for c in signing.values())
    assert "hmac-sha256" in signing["algorithm"].detail
    modules = {c.target for c in changes if c.subject == "module" and c.action == "added"}
    assert modules == {"authorization", "profitSharing"}
    added = {c.target for c in changes if c.subject == "operation" and c.action == "added"}
    for module in ("authorization", "profitSharing"):
        tag = next(m for m in models["v2"].modules if m.tag == module)
        assert {op.operation_id for op in tag.operations} <= added
    idempotent = {c.target.split()[0] for c in changes if c.target.endswith(" idempotencyId")}
    in_v1 = {op.operation_id for op in models["v1"].operations}
    assert idempotent == {op.operation_id for op in models["v2"].operations if op.idempotent} & in_v1
    assert not any(c.breaking for c in changes if c.target.endswith(" idempotencyId"))
    assert not any(c.subject == "operation" and c.action == "removed" for c in changes)


def test_the_generated_changelog_is_the_v1_to_v2_diff(config: Any) -> None:
    text = (config.output / "CHANGELOG-v1-v2.md").read_text(encoding="utf-8")
    for name in ("hmac-sha256", "idempotencyId", "authorization", "profitSharing", "createSplit", "breaking"):
        assert name in text


# The command


def payspec(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "generator", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_the_command_prints_markdown_or_json_and_can_fail_on_breaking() -> None:
    markdown = payspec("diff", "v1", "v2")
    assert markdown.returncode == 0, markdown.stderr
    assert markdown.stdout.startswith("# Changelog") and "| **breaking** |" in markdown.stdout
    report = json.loads(payspec("diff", "--json", "v1", "v2").stdout)
    assert report["summary"]["breaking"] == sum(c["breaking"] for c in report["changes"]) > 0
    assert payspec("diff", "--fail-on-breaking", "v1", "v2").returncode == 1
    same = payspec("diff", "--fail-on-breaking", "v2", "generated/spec/v2/openapi.json")
    assert same.returncode == 0 and "No changes." in same.stdout


def test_git_ref_takes_old_from_an_earlier_commit(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "spec", tmp_path / "spec")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([*git, "add", "spec"], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "spec"], cwd=tmp_path, check=True)
    unchanged = payspec("diff", "--git-ref", "HEAD", "spec/v2", cwd=tmp_path)
    assert unchanged.returncode == 0, unchanged.stderr
    assert "No changes." in unchanged.stdout
    paths = tmp_path / "spec/v2/openapi.yaml"
    text = paths.read_text(encoding="utf-8")
    paths.write_text(text.replace("toleranceSeconds: 300", "toleranceSeconds: 120", 1), encoding="utf-8")
    changed = payspec("diff", "--git-ref", "HEAD", "--fail-on-breaking", "spec/v2", cwd=tmp_path)
    assert changed.returncode == 1
    assert "v2@HEAD → v2" in changed.stdout and "timestamp.toleranceSeconds" in changed.stdout
    missing = payspec("diff", "--git-ref", "no-such-ref", "spec/v2", cwd=tmp_path)
    assert missing.returncode == 2 and "no-such-ref" in missing.stderr
