"""What the simulator knows of each API version, read from its published spec and SDK.

Nothing here is typed by hand: field-to-code mappings come from
`x-invalid-code`, codes and messages from the code tables, the signer and the
request models from the generated SDK.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import BaseModel

from generator.bundle import ref_name
from generator.config import Config
from generator.model import ApiModel, Operation, TestValue


@dataclass(frozen=True)
class OperationRuntime:
    operation: Operation
    model: ApiModel
    request_model: type[BaseModel]
    data_model: type[BaseModel]
    codes: frozenset[int]
    file_fields: tuple[str, ...]
    test_values: tuple[TestValue, ...]

    @functools.cached_property
    def file_attributes(self) -> set[str]:
        """The request model's attribute names of `file_fields` (what a dump leaves out)."""
        fields = self.request_model.model_fields
        return {name for name, field in fields.items() if (field.alias or name) in self.file_fields}

    @functools.cached_property
    def channel_fields(self) -> dict[str, str]:
        """{channel list: request field} for each field whose value is picked from a channel list."""
        return channel_fields(self.model, self.operation.request_schema)

    def invalid_code(self, location: str | Sequence[str | int]) -> int:
        """The code for a missing or invalid field, by name or by a validation error's location."""
        path = (location,) if isinstance(location, str) else tuple(location)
        return self.model.invalid_code(self.operation.request_schema, path)


@dataclass
class VersionRuntime:
    name: str
    model: ApiModel
    signing: ModuleType
    notifications: ModuleType
    operations: dict[str, OperationRuntime] = field(default_factory=dict)

    def message(self, code: int) -> str:
        return self.model.code(code).message


@dataclass
class Runtime:
    """Every version the simulator serves, and the facts they share (markets, channels)."""

    versions: dict[str, VersionRuntime]

    @property
    def current(self) -> VersionRuntime:
        return self.versions[max(self.versions)]

    @property
    def schemas(self) -> dict[str, Any]:
        return self.current.model.schemas

    def markets(self) -> dict[str, dict[str, Any]]:
        return self.schemas["Country"]["x-markets"]  # type: ignore[no-any-return]

    def channels(self, enum: str) -> dict[str, dict[str, Any]]:
        return self.schemas[enum]["x-channels"]  # type: ignore[no-any-return]

    def invalid_code(self, enum: str) -> int:
        return int(self.schemas[enum]["x-invalid-code"])

    @functools.cached_property
    def pay_in_channels(self) -> tuple[tuple[str, str], ...]:
        """(channel list, field) for each list a pay-in goes through: (("WalletCode", "walletCode"), ...).

        Read from the spec: the lists whose channels take pay methods, and the
        fields of a collection create that name them.
        """
        model = self.current.model
        fields = channel_fields(model, model.operation("createCollection").request_schema)
        return tuple(
            (enum, field)
            for enum, field in fields.items()
            if any("payMethods" in channel for channel in self.channels(enum).values())
        )

    def pay_in_channel_list(self, pay_method: str) -> tuple[str, str] | None:
        """The (channel list, field) whose channels take `pay_method`; None for a method without channels."""
        for enum, field_name in self.pay_in_channels:
            if any(pay_method in channel["payMethods"] for channel in self.channels(enum).values()):
                return enum, field_name
        return None


def channel_fields(model: ApiModel, request_schema: str) -> dict[str, str]:
    """{channel list: field} for each field of `request_schema` whose value is picked from a channel list."""
    return {
        ref: f.name
        for f in model.fields(request_schema)
        if (ref := ref_name(f.schema)) is not None and "x-channels" in model.schemas.get(ref, {})
    }


def load_runtime(config: Config) -> Runtime:
    from generator.loader import load_published

    versions = {}
    for version in config.versions:
        bundle = config.output / "spec" / version.name / "openapi.json"
        model = load_published(Path(bundle), version.name)
        versions[version.name] = _version_runtime(model, version.package)
    return Runtime(versions)


def _version_runtime(model: ApiModel, package: str) -> VersionRuntime:
    models = importlib.import_module(f"{package}.models")
    runtime = VersionRuntime(
        name=model.name,
        model=model,
        signing=importlib.import_module(f"{package}._signing"),
        notifications=importlib.import_module(f"{package}.notifications"),
    )
    for op in model.operations:
        runtime.operations[op.path] = OperationRuntime(
            operation=op,
            model=model,
            request_model=getattr(models, op.request_schema),
            data_model=getattr(models, op.data_schema or ""),
            codes=frozenset(op.result_codes),
            file_fields=model.file_fields(op.request_schema),
            test_values=model.test_values_of(op.operation_id),
        )
    return runtime
