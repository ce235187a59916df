"""What every service uses: the call it serves, refusals, ids, money checks, finishing and notifying.

A service is a function `(call, tx) -> data` registered for an operationId. It
runs inside one write transaction: a refusal (raised) rolls everything back,
so a refused request never changes the store.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from ..clock import gateway_day, gateway_time
from ..runtime import OperationRuntime, Runtime, VersionRuntime
from ..store import Insufficient, Merchant, Record, Tx

Service = Callable[["Call", Tx], dict[str, Any]]
SERVICES: dict[str, tuple[Service, bool]] = {}


def service(operation_id: str, *, writes: bool = True) -> Callable[[Service], Service]:
    """Register the function that serves `operation_id`; `writes=False` for pure reads."""

    def register(function: Service) -> Service:
        SERVICES[operation_id] = (function, writes)
        return function

    return register


class Refusal(Exception):
    """The gateway refuses the call with `code`; `data` rides along (the earlier result, for a repeat).

    A code is given by its name in the spec's code tables ("TRANSACTION_NOT_FOUND"),
    or as the number a spec-driven rule computed (a field's `x-invalid-code`).
    """

    def __init__(self, code: int | str, data: dict[str, Any] | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.data = data


@dataclass
class Settings:
    """Sandbox behaviour that is not the API's: how long processing takes, in gateway milliseconds."""

    processing_ms: int = 2000
    link_expiry_ms: int = 30 * 60 * 1000


@dataclass
class Call:
    runtime: Runtime
    version: VersionRuntime
    op: OperationRuntime
    merchant: Merchant
    params: dict[str, Any]
    files: dict[str, bytes]
    now_ms: int
    settings: Settings
    base_url: str
    _replay_checked: bool = False

    # Small helpers ---------------------------------------------------------------------------

    def refuse(self, code: int | str, data: dict[str, Any] | None = None) -> NoReturn:
        raise Refusal(code, data)

    @property
    def now(self) -> str:
        return gateway_time(self.now_ms)

    @property
    def today(self) -> str:
        return gateway_day(self.now_ms)

    def new_record(
        self, kind: str, ref: str, data: dict[str, Any], *, record_id: str | None = None, **fields: Any
    ) -> Record:
        return Record(
            id=record_id or new_id(kind),
            app_id=self.merchant.app_id,
            kind=kind,
            ref=ref,
            status=fields.pop("status"),
            day=self.today,
            created_ms=self.now_ms,
            version=self.version.name,
            data=data,
            **fields,
        )

    def duplicate_code(self) -> int:
        """The operation's own code for a reused merchant id, read from its documented codes."""
        families = {f.name: set(f.codes) for f in self.version.model.families}
        idempotency = self.version.model.idempotency
        codes = set(self.op.codes & families["duplicate"]) - ({idempotency.code} if idempotency else set())
        if len(codes) != 1:
            raise LookupError(f"{self.op.operation.operation_id}: documents no single duplicate code ({codes})")
        return codes.pop()

    def idempotency_key(self) -> str | None:
        idempotency = self.version.model.idempotency
        if idempotency is None or not self.op.operation.idempotent:
            return None
        key = self.params.get(idempotency.field)
        return key if isinstance(key, str) else None

    def refuse_replayed_key(self, tx: Tx) -> None:
        """DUPLICATE_IDEMPOTENCY_ID, with the earlier result, for an `idempotencyId` used within the window."""
        idempotency = self.version.model.idempotency
        key = self.idempotency_key()
        self._replay_checked = True
        if key is None or idempotency is None:
            return
        earlier = tx.idempotent_record(self.merchant.app_id, key, self.now_ms - idempotency.window_hours * 3_600_000)
        if earlier is not None:
            self.refuse(idempotency.code, earlier.data)

    def refuse_repeat(self, tx: Tx, kind: str, ref: str) -> None:
        """What a repeated create meets first: its own earlier result.

        A client that lost a create's answer sends it again. The repeat must be
        told about the first request (DUPLICATE_IDEMPOTENCY_ID with its data, or the duplicate-id code)
        before any rule whose outcome the first request itself changed: the balance
        it debited, the daily caps it counted, the PROCESSING refund it created.
        """
        self.refuse_replayed_key(tx)
        if tx.find(self.merchant.app_id, kind, ref) is not None:
            self.refuse(self.duplicate_code())

    def create(self, tx: Tx, record: Record) -> Record:
        """Insert a new record, answering the idempotency and duplicate-id rules first."""
        if not self._replay_checked:
            self.refuse_replayed_key(tx)
        if not tx.insert(record):
            self.refuse(self.duplicate_code())
        key = self.idempotency_key()
        if key is not None:
            tx.remember_key(self.merchant.app_id, key, record.id, self.now_ms)
        return record

    def planned_outcome(self) -> tuple[str, int] | None:
        """A sandbox test value in this request: ("respond", code) or ("fail", failedCode)."""
        for value in self.op.test_values:
            if self.params.get(value.field) == value.value:
                return value.effect, value.code
        return None

    def respond_to_test_value(self) -> int | None:
        """Refuse now for a `respond` test value; return a planned failed code for a `fail` one."""
        planned = self.planned_outcome()
        if planned is None:
            return None
        effect, code = planned
        if effect == "respond":
            self.refuse(code)
        return code

    # Markets and channels --------------------------------------------------------------------

    def check_market(self, country: str, currency: str, amount: int, direction: str) -> None:
        """Country opened and its currency (else COUNTRY_NOT_OPENED), amount within limits (AMOUNT_EXCEEDS_LIMIT)."""
        market = self.runtime.markets().get(country)
        if market is None or country not in self.merchant.config.get("countries", []):
            self.refuse("COUNTRY_NOT_OPENED")
        if market["currency"] != currency:
            self.refuse("COUNTRY_NOT_OPENED")
        limits = market[direction]
        if not limits["min"] <= amount <= limits["max"]:
            self.refuse("AMOUNT_EXCEEDS_LIMIT")

    def check_channel(
        self, enum: str, code: str | None, *, country: str, pay_method: str | None = None
    ) -> dict[str, Any]:
        """A channel of the list `enum` that serves `country` (and `pay_method`), opened by the merchant."""
        channel = self.runtime.channels(enum).get(code or "")
        invalid = self.runtime.invalid_code(enum)
        if channel is None or country not in channel["countries"]:
            self.refuse(invalid)
        if pay_method is not None and pay_method not in channel.get("payMethods", []):
            self.refuse(invalid)
        if code not in self.merchant.config.get("channels", {}).get(enum, []):
            self.refuse("MERCHANT_CHANNEL_UNAVAILABLE")
        return channel

    def check_daily_caps(self, tx: Tx, kinds: tuple[str, ...], currency: str, amount: int) -> None:
        """The merchant's daily count cap (COUNT_LIMIT_EXCEEDED) and volume cap per currency (VOLUME_LIMIT)."""
        limits = self.merchant.config.get("limits", {})
        cap = limits.get("dailyVolume", {}).get(currency)
        if "dailyCount" not in limits and cap is None:
            return
        count, volume = tx.day_totals(self.merchant.app_id, self.today, kinds, currency)
        if "dailyCount" in limits and count + 1 > limits["dailyCount"]:
            self.refuse("COUNT_LIMIT_EXCEEDED")
        if cap is not None and volume + amount > cap:
            self.refuse("VOLUME_LIMIT")

    def debit(self, tx: Tx, currency: str, amount: int) -> None:
        """Hold `amount` of the available balance in frozen; MERCHANT_BALANCE_INSUFFICIENT when it is short."""
        try:
            tx.move(self.merchant.app_id, currency, available=-amount, frozen=amount)
        except Insufficient:
            self.refuse("MERCHANT_BALANCE_INSUFFICIENT")


def finish_outgoing(
    tx: Tx,
    version: VersionRuntime,
    record: Record,
    now_ms: int,
    *,
    status_field: str,
    paid: str,
    failed_code: int | None,
) -> None:
    """End money on its way out, held in `frozen`: `paid` (it leaves) or FAILED with `failed_code` (back to
    `available`), with the finish time; the record is saved."""
    record.due_ms = None
    record.meta["finishedMs"] = now_ms
    finished: dict[str, Any] = {"finishTime": gateway_time(now_ms)}
    if failed_code is None:
        record.status = paid
        tx.move(record.app_id, str(record.currency), frozen=-record.amount)
    else:
        record.status = "FAILED"
        finished.update(failedCode=failed_code, failedMessage=version.message(failed_code))
        tx.move(record.app_id, str(record.currency), frozen=-record.amount, available=record.amount)
    record.data.update({status_field: record.status, **finished})
    tx.update(record)


def new_id(kind: str) -> str:
    """A gateway id in the shape of the spec's examples, ordered by time.

    Its first 12 hex digits are the creation millisecond (wall time), so that a
    new record's id lands at the end of the store's index rather than on a random
    page of it; the rest is random. Prefixes (`r_`, `v_`, ...) are the examples'.
    """
    prefix = {"refund": "r_", "void": "v_", "token": "tok_", "proof": "prf_", "split": "spl_", "split_return": "ret_"}
    random_bytes = 6 if kind in prefix else 12
    return f"{prefix.get(kind, '')}{time.time_ns() // 1_000_000:012x}{secrets.token_hex(random_bytes)}"


def find_own(tx: Tx, call: Call, kind: str, ref: str, gateway_id: str | None, id_field: str) -> Record:
    """A record by the merchant's id; the gateway's id, when given, must name the same one (TRANSACTION_NOT_FOUND)."""
    record = tx.find(call.merchant.app_id, kind, ref)
    if record is None or (gateway_id is not None and record.data.get(id_field) != gateway_id):
        call.refuse("TRANSACTION_NOT_FOUND")
    return record


def by_gateway_id(tx: Tx, call: Call, record_id: str, kinds: tuple[str, ...]) -> Record:
    record = tx.get(record_id)
    if record is None or record.app_id != call.merchant.app_id or record.kind not in kinds:
        call.refuse("TRANSACTION_NOT_FOUND")
    return record
