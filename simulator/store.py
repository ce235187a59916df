"""The simulator's state, in SQLite, behind one narrow interface.

Every change happens inside a `BEGIN IMMEDIATE` transaction (`Store.write()`,
or a savepoint of the requests' group, `Store.grouped()`): writers are
serialized across threads and across worker processes, so a balance check and
the debit it guards cannot interleave with another, and a crash mid-request
leaves nothing half-written. The CHECK constraints are the last line: no
balance can go negative even if a service forgot to look.

One connection per process, guarded by a lock: SQLite work per request is
far shorter than the HTTP around it, and `:memory:` needs a single
connection anyway.

Merchants are read on every request and change rarely, so each process keeps
the ones it has read until the database says they may have changed: a commit
by another worker (SQLite's `data_version`) or a merchant saved by this one.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS merchants (
    app_id TEXT PRIMARY KEY,
    secret TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    config TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS balances (
    app_id TEXT NOT NULL,
    currency TEXT NOT NULL,
    available INTEGER NOT NULL DEFAULT 0 CHECK (available >= 0),
    frozen INTEGER NOT NULL DEFAULT 0 CHECK (frozen >= 0),
    pending INTEGER NOT NULL DEFAULT 0 CHECK (pending >= 0),
    PRIMARY KEY (app_id, currency)
);
CREATE TABLE IF NOT EXISTS records (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    ref TEXT NOT NULL,
    parent TEXT,
    status TEXT NOT NULL,
    amount INTEGER NOT NULL DEFAULT 0,
    currency TEXT,
    day TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    due_ms INTEGER,
    version TEXT NOT NULL,
    data TEXT NOT NULL,
    meta TEXT NOT NULL,
    UNIQUE (app_id, kind, ref)
);
CREATE INDEX IF NOT EXISTS records_parent ON records (parent) WHERE parent IS NOT NULL;
CREATE INDEX IF NOT EXISTS records_due ON records (due_ms) WHERE due_ms IS NOT NULL;
CREATE INDEX IF NOT EXISTS records_day ON records (app_id, day, kind);
CREATE TABLE IF NOT EXISTS idempotency (
    app_id TEXT NOT NULL,
    key TEXT NOT NULL,
    record_id TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (app_id, key)
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id TEXT NOT NULL,
    version TEXT NOT NULL,
    record_id TEXT NOT NULL,
    event TEXT NOT NULL,
    url TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_ms INTEGER NOT NULL,
    lease_ms INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_ms);
CREATE TABLE IF NOT EXISTS deliveries (
    outbox_id INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    status INTEGER,
    body TEXT,
    error TEXT,
    ok INTEGER NOT NULL,
    PRIMARY KEY (outbox_id, attempt)
);
CREATE TABLE IF NOT EXISTS clock (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    offset_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS rate (
    app_id TEXT NOT NULL,
    second INTEGER NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (app_id, second)
);
"""


class Insufficient(Exception):
    """A balance change would take a balance below zero; nothing was changed."""


@dataclass
class Merchant:
    app_id: str
    secret: str
    enabled: bool
    config: dict[str, Any]

    def __repr__(self) -> str:
        # The secret stays out of logs and tracebacks.
        return f"Merchant(app_id={self.app_id!r}, enabled={self.enabled})"


@dataclass
class Balance:
    currency: str
    available: int
    frozen: int
    pending: int


@dataclass
class Record:
    """A thing the gateway keeps: an order, a refund, a void, a token, a split, a receiver."""

    id: str
    app_id: str
    kind: str
    ref: str
    status: str
    day: str
    created_ms: int
    version: str
    data: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)
    parent: str | None = None
    amount: int = 0
    currency: str | None = None
    due_ms: int | None = None

    @property
    def finished_ms(self) -> int:
        """When the record reached its final status (its creation time until it has)."""
        return int(self.meta.get("finishedMs", self.created_ms))


_RECORD_COLUMNS = (
    "id, app_id, kind, ref, parent, status, amount, currency, day, created_ms, due_ms, version, data, meta"
)


class Store:
    def __init__(self, path: str, *, group_commit: bool = False) -> None:
        self._lock = threading.RLock()
        self._group_commit = group_commit
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._merchants: dict[str, Merchant] = {}
        self._data_version = -1
        self._depth = 0  # transactions of the lock's holder entered and not yet left
        self._group: _Group | None = None
        if path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL: a commit survives the process being killed (it is in the WAL); only
            # an operating-system crash could lose the last ones.
            self._db.execute("PRAGMA synchronous=NORMAL")
            # Checkpoint the WAL every 10,000 pages (40 MB) rather than every 1,000: checkpoints
            # are where the disk is synced, and under load they were most of a create's cost.
            self._db.execute("PRAGMA wal_autocheckpoint=10000")
        with self.write() as tx:
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    tx.db.execute(statement)

    def close(self) -> None:
        with self._lock:
            self.commit_group()
            self._db.close()

    def merchant(self, app_id: str) -> Merchant | None:
        """A merchant as last committed, for the request pipeline (which must not change it)."""
        with self._lock:
            version = self._db.execute("PRAGMA data_version").fetchone()[0]
            if version != self._data_version:
                self._merchants.clear()
                self._data_version = version
            merchant = self._merchants.get(app_id)
            if merchant is None:
                # A single statement is a consistent snapshot by itself. An open group never
                # holds a merchant (they are saved by `write`, which commits the group first);
                # inside any other transaction, what is read may yet be rolled back.
                merchant = self._tx().merchant(app_id)
                if merchant is not None and not self._depth:
                    self._merchants[app_id] = merchant
            return merchant

    def _tx(self) -> Tx:
        return Tx(self._db, self._merchants)

    @contextmanager
    def _entered(self) -> Iterator[Tx]:
        self._depth += 1
        try:
            yield self._tx()
        finally:
            self._depth -= 1

    @contextmanager
    def write(self) -> Iterator[Tx]:
        """A transaction that holds the database's write lock from its first statement.

        Inside another transaction of this thread, it joins that one.
        """
        with self._lock:
            if self._depth:
                with self._entered() as tx:
                    yield tx
                return
            self.commit_group()
            self._db.execute("BEGIN IMMEDIATE")
            try:
                with self._entered() as tx:
                    yield tx
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[Tx]:
        """A consistent snapshot for reading (or the transaction this thread is already in)."""
        with self._lock:
            if self._depth:
                with self._entered() as tx:
                    yield tx
                return
            self.commit_group()
            self._db.execute("BEGIN")
            try:
                with self._entered() as tx:
                    yield tx
            finally:
                self._db.execute("COMMIT")

    # Group commit ----------------------------------------------------------------------------

    @contextmanager
    def grouped(self, *, writes: bool = True) -> Iterator[Tx]:
        """A request's transaction, committed with the others of the same turn of the event loop.

        A commit is most of a small write's cost, and every request processed in one
        turn can share it: the first opens the group and schedules its commit for the
        next turn; each request runs in a savepoint, so that a refusal (any exception)
        undoes its own changes alone. What a group holds is not durable until it
        commits: answer only after awaiting what `pending()` gave. A read joins
        the open group, or reads on its own. Must run on the event loop's thread.

        The open group holds the database's write lock until the next turn: another
        process writing to the same database would wait for it, every turn. A store
        shared by several processes is made without `group_commit`, and then this is
        a transaction of its own, as `write()` or `read()`.
        """
        with self._lock:
            if self._depth:
                raise RuntimeError("a grouped transaction cannot be nested")
            if self._group is None and not (writes and self._group_commit):
                with self.write() if writes else self.read() as tx:
                    yield tx
                return
            if not writes:  # inside the open group: a read has nothing to undo
                with self._entered() as tx:
                    yield tx
                return
            if self._group is None:
                loop = asyncio.get_running_loop()
                self._db.execute("BEGIN IMMEDIATE")
                self._group = _Group(loop)
                loop.call_soon(self.commit_group)
            self._db.execute("SAVEPOINT request")
            try:
                with self._entered() as tx:
                    yield tx
            except BaseException as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK TO request")
                    self._db.execute("RELEASE request")
                else:  # SQLite gave up the whole transaction (a disk error): the group is lost
                    self._settle_group(exc)
                raise
            self._db.execute("RELEASE request")

    def pending(self) -> asyncio.Future[None] | None:
        """The commit of the open group, if one is open: what an answer waits for.

        Each caller gets a future of its own: a request cancelled while it waits (its
        client hung up) cancels only its own, never the others' or the commit.
        """
        if self._group is None:
            return None
        committed = self._group.loop.create_future()
        self._group.waiting.append(committed)
        return committed

    def commit_group(self) -> None:
        """Commit the open group, if any, and tell its requests how that went."""
        with self._lock:
            if self._group is None:
                return
            try:
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                # Settled whatever happens next: every answer of the group awaits this.
                try:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                finally:
                    self._settle_group(exc)
            else:
                self._settle_group(None)

    def _settle_group(self, error: BaseException | None) -> None:
        group, self._group = self._group, None
        if group is None:
            return
        if threading.get_ident() == group.thread:
            _settle(group.waiting, error)
        else:
            group.loop.call_soon_threadsafe(_settle, group.waiting, error)


@dataclass
class _Group:
    loop: asyncio.AbstractEventLoop
    waiting: list[asyncio.Future[None]] = field(default_factory=list)
    thread: int = field(default_factory=threading.get_ident)


def _settle(waiting: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for future in waiting:
        if future.done():  # cancelled: its request is gone
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)


class Tx:
    """What services may do inside a transaction."""

    def __init__(self, db: sqlite3.Connection, merchants: dict[str, Merchant]) -> None:
        self.db = db
        self._merchants = merchants

    # Merchants -------------------------------------------------------------------------------

    def merchant(self, app_id: str) -> Merchant | None:
        row = self.db.execute("SELECT * FROM merchants WHERE app_id = ?", (app_id,)).fetchone()
        if row is None:
            return None
        return Merchant(row["app_id"], row["secret"], bool(row["enabled"]), json.loads(row["config"]))

    def save_merchant(self, merchant: Merchant, now_ms: int) -> None:
        self.db.execute(
            "INSERT INTO merchants (app_id, secret, enabled, config, created_ms) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (app_id) DO UPDATE SET secret = excluded.secret, enabled = excluded.enabled,"
            " config = excluded.config",
            (merchant.app_id, merchant.secret, int(merchant.enabled), json.dumps(merchant.config), now_ms),
        )
        # Read again after this: from the database, which has it, or has not if this rolls back.
        self._merchants.pop(merchant.app_id, None)

    # Balances --------------------------------------------------------------------------------

    def balances(self, app_id: str) -> list[Balance]:
        rows = self.db.execute(
            "SELECT currency, available, frozen, pending FROM balances WHERE app_id = ? ORDER BY currency", (app_id,)
        ).fetchall()
        return [Balance(r["currency"], r["available"], r["frozen"], r["pending"]) for r in rows]

    def move(self, app_id: str, currency: str, *, available: int = 0, frozen: int = 0, pending: int = 0) -> None:
        """Add the given (signed) amounts to a balance; Insufficient if any would go below zero."""
        self.db.execute("INSERT OR IGNORE INTO balances (app_id, currency) VALUES (?, ?)", (app_id, currency))
        try:
            self.db.execute(
                "UPDATE balances SET available = available + ?, frozen = frozen + ?, pending = pending + ?"
                " WHERE app_id = ? AND currency = ?",
                (available, frozen, pending, app_id, currency),
            )
        except sqlite3.IntegrityError as exc:
            raise Insufficient(f"{app_id} {currency}") from exc

    # Records ---------------------------------------------------------------------------------

    def insert(self, record: Record) -> bool:
        """Insert; False when the merchant already has a record of that kind with that ref."""
        try:
            self.db.execute(
                f"INSERT INTO records ({_RECORD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                _row(record),
            )
        except sqlite3.IntegrityError:
            return False
        return True

    def update(self, record: Record) -> None:
        self.db.execute(
            "UPDATE records SET status = ?, amount = ?, due_ms = ?, data = ?, meta = ? WHERE id = ?",
            (record.status, record.amount, record.due_ms, json.dumps(record.data), json.dumps(record.meta), record.id),
        )

    def find(self, app_id: str, kind: str, ref: str) -> Record | None:
        row = self.db.execute(
            f"SELECT {_RECORD_COLUMNS} FROM records WHERE app_id = ? AND kind = ? AND ref = ?", (app_id, kind, ref)
        ).fetchone()
        return _record(row) if row else None

    def get(self, record_id: str) -> Record | None:
        row = self.db.execute(f"SELECT {_RECORD_COLUMNS} FROM records WHERE id = ?", (record_id,)).fetchone()
        return _record(row) if row else None

    def children(self, parent: str, kind: str) -> list[Record]:
        rows = self.db.execute(
            f"SELECT {_RECORD_COLUMNS} FROM records WHERE parent = ? AND kind = ? ORDER BY created_ms, id",
            (parent, kind),
        ).fetchall()
        return [_record(r) for r in rows]

    def of_kind(self, app_id: str, kinds: tuple[str, ...]) -> list[Record]:
        marks = ", ".join("?" for _ in kinds)
        rows = self.db.execute(
            f"SELECT {_RECORD_COLUMNS} FROM records WHERE app_id = ? AND kind IN ({marks})"
            " ORDER BY created_ms DESC, id",
            (app_id, *kinds),
        ).fetchall()
        return [_record(r) for r in rows]

    def unsettled(self, kinds: tuple[str, ...], app_id: str | None) -> list[Record]:
        """COMPLETED records of these kinds whose money has not been settled yet."""
        marks = ", ".join("?" for _ in kinds)
        merchant, args = ("AND app_id = ?", (app_id,)) if app_id else ("", ())
        rows = self.db.execute(
            f"SELECT {_RECORD_COLUMNS} FROM records WHERE kind IN ({marks}) AND status = 'COMPLETED'"
            f" AND json_extract(meta, '$.settled') IS NULL {merchant} ORDER BY created_ms",
            (*kinds, *args),
        ).fetchall()
        return [_record(r) for r in rows]

    def due(self, now_ms: int, limit: int = 100) -> list[Record]:
        rows = self.db.execute(
            f"SELECT {_RECORD_COLUMNS} FROM records WHERE due_ms IS NOT NULL AND due_ms <= ? ORDER BY due_ms LIMIT ?",
            (now_ms, limit),
        ).fetchall()
        return [_record(r) for r in rows]

    def day_totals(self, app_id: str, day: str, kinds: tuple[str, ...], currency: str) -> tuple[int, int]:
        """(count, volume) of the merchant's records of these kinds created that day, failures included."""
        marks = ", ".join("?" for _ in kinds)
        row = self.db.execute(
            f"SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM records WHERE app_id = ? AND day = ? AND kind IN ({marks})"
            " AND currency = ?",
            (app_id, day, *kinds, currency),
        ).fetchone()
        return int(row[0]), int(row[1])

    # Idempotency -----------------------------------------------------------------------------

    def idempotent_record(self, app_id: str, key: str, since_ms: int) -> Record | None:
        row = self.db.execute(
            "SELECT record_id FROM idempotency WHERE app_id = ? AND key = ? AND created_ms >= ?",
            (app_id, key, since_ms),
        ).fetchone()
        return self.get(row[0]) if row else None

    def remember_key(self, app_id: str, key: str, record_id: str, now_ms: int) -> None:
        self.db.execute(
            "INSERT INTO idempotency (app_id, key, record_id, created_ms) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (app_id, key) DO UPDATE SET record_id = excluded.record_id, created_ms = excluded.created_ms",
            (app_id, key, record_id, now_ms),
        )

    # Clock and rate --------------------------------------------------------------------------

    def clock_offset(self) -> int:
        row = self.db.execute("SELECT offset_ms FROM clock WHERE id = 1").fetchone()
        return int(row[0]) if row else 0

    def set_clock_offset(self, offset_ms: int) -> None:
        self.db.execute(
            "INSERT INTO clock (id, offset_ms) VALUES (1, ?)"
            " ON CONFLICT (id) DO UPDATE SET offset_ms = excluded.offset_ms",
            (offset_ms,),
        )

    def count_request(self, app_id: str, second: int) -> int:
        """Count one request in the merchant's current second; the count so far."""
        self.db.execute("DELETE FROM rate WHERE app_id = ? AND second < ?", (app_id, second - 5))
        row = self.db.execute(
            "INSERT INTO rate (app_id, second, count) VALUES (?, ?, 1)"
            " ON CONFLICT (app_id, second) DO UPDATE SET count = count + 1 RETURNING count",
            (app_id, second),
        ).fetchone()
        return int(row[0])

    # Notifications ---------------------------------------------------------------------------

    def enqueue(
        self, app_id: str, version: str, record_id: str, event: str, url: str, payload: dict[str, Any], now_ms: int
    ) -> None:
        self.db.execute(
            "INSERT INTO outbox (app_id, version, record_id, event, url, payload, state, next_ms, created_ms)"
            " VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
            (app_id, version, record_id, event, url, json.dumps(payload), now_ms, now_ms),
        )

    def claim(self, now_ms: int, lease_ms: int, limit: int) -> list[sqlite3.Row]:
        """Take up to `limit` due notifications for delivery, leased so that no other worker takes them."""
        return self.db.execute(
            "UPDATE outbox SET lease_ms = ? WHERE id IN (SELECT id FROM outbox WHERE state = 'pending'"
            " AND next_ms <= ? AND lease_ms <= ? ORDER BY next_ms LIMIT ?) RETURNING *",
            (now_ms + lease_ms, now_ms, now_ms, limit),
        ).fetchall()

    def delivered(
        self,
        outbox_id: int,
        attempt: int,
        at_ms: int,
        status: int | None,
        body: str,
        error: str,
        ok: bool,
        next_ms: int | None,
    ) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO deliveries (outbox_id, attempt, at_ms, status, body, error, ok)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (outbox_id, attempt, at_ms, status, body[:500], error[:500], int(ok)),
        )
        state = "delivered" if ok else ("pending" if next_ms is not None else "failed")
        self.db.execute(
            "UPDATE outbox SET attempts = ?, state = ?, next_ms = COALESCE(?, next_ms), lease_ms = 0 WHERE id = ?",
            (attempt, state, next_ms, outbox_id),
        )

    def notifications(self, app_id: str | None) -> list[dict[str, Any]]:
        where, args = ("WHERE app_id = ?", (app_id,)) if app_id else ("", ())
        rows = self.db.execute(f"SELECT * FROM outbox {where} ORDER BY id", args).fetchall()
        result = []
        for row in rows:
            attempts = self.db.execute(
                "SELECT attempt, at_ms, status, body, error, ok FROM deliveries WHERE outbox_id = ? ORDER BY attempt",
                (row["id"],),
            ).fetchall()
            result.append(
                {**dict(row), "payload": json.loads(row["payload"]), "deliveries": [dict(a) for a in attempts]}
            )
        return result


def _row(record: Record) -> tuple[Any, ...]:
    return (
        record.id,
        record.app_id,
        record.kind,
        record.ref,
        record.parent,
        record.status,
        record.amount,
        record.currency,
        record.day,
        record.created_ms,
        record.due_ms,
        record.version,
        json.dumps(record.data),
        json.dumps(record.meta),
    )


def _record(row: sqlite3.Row) -> Record:
    return Record(
        id=row["id"],
        app_id=row["app_id"],
        kind=row["kind"],
        ref=row["ref"],
        parent=row["parent"],
        status=row["status"],
        amount=row["amount"],
        currency=row["currency"],
        day=row["day"],
        created_ms=row["created_ms"],
        due_ms=row["due_ms"],
        version=row["version"],
        data=json.loads(row["data"]),
        meta=json.loads(row["meta"]),
    )
