"""Turning a record that reached a final state into the notification the spec describes.

The payload's fields are the notification schema's (the webhook whose
`x-events` lists the event); the signature is added at each delivery attempt,
so that a v2 notification carries the time it was sent.
"""

from __future__ import annotations

from typing import Any

from .clock import gateway_time
from .runtime import VersionRuntime
from .store import Record, Tx


def enqueue_event(tx: Tx, version: VersionRuntime, record: Record, event: str, now_ms: int) -> None:
    """Queue `event` about `record` for its notifyUrl, if it has one."""
    url = record.meta.get("notifyUrl")
    if not url:
        return
    note = next((n for n in version.model.notifications if event in n.events), None)
    if note is None:
        raise LookupError(f"{version.name}: no notification carries {event!r}")
    signature = version.model.signature
    skip = {signature.field, signature.timestamp_field if signature.timestamp_in_notifications else ""}
    fields = [f.name for f in version.model.fields(note.schema) if f.name not in skip]
    payload: dict[str, Any] = {name: record.data[name] for name in fields if name in record.data}
    payload["eventName"] = event
    payload["returnTime"] = gateway_time(now_ms)
    tx.enqueue(record.app_id, version.name, record.id, event, url, payload, now_ms)
