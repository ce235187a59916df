"""The store's group commit: the requests of one event-loop turn share a commit.

What must hold: nothing is visible to another connection (nor durable) before
the group commits; a refusal undoes its own request alone; a failed commit
fails every request of the group and leaves the store usable; and any other
transaction commits the open group first.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator.store import Record, Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(str(tmp_path / "group.db"), group_commit=True)
    yield opened
    opened.close()


def record(ref: str) -> Record:
    return Record(ref, "app_group", "collection", ref, "PENDING", "2026-01-01", 0, "v2", {"ref": ref})


def committed_refs(store: Store, tmp_path: Path) -> set[str]:
    """What another connection (another process, or the store after a crash) sees."""
    with sqlite3.connect(tmp_path / "group.db") as other:
        return {ref for (ref,) in other.execute("SELECT ref FROM records")}


class Refused(Exception):
    pass


def test_one_turn_shares_one_commit_and_a_refusal_undoes_only_its_own(store: Store, tmp_path: Path) -> None:
    async def turn() -> None:
        with store.grouped() as tx:
            tx.insert(record("A"))
        with pytest.raises(Refused), store.grouped() as tx:
            tx.insert(record("B"))
            raise Refused
        with store.grouped() as tx:
            tx.insert(record("C"))
        with store.grouped(writes=False) as tx:  # a query of the same turn sees the group's changes
            assert tx.find("app_group", "collection", "A") is not None
            assert tx.find("app_group", "collection", "B") is None
        committed = store.pending()
        assert committed is not None and not committed.done()
        assert committed_refs(store, tmp_path) == set()  # nothing durable before the commit
        await committed
        assert store.pending() is None

    asyncio.run(turn())
    assert committed_refs(store, tmp_path) == {"A", "C"}


def test_an_answer_that_stops_waiting_does_not_stop_the_commit(store: Store, tmp_path: Path) -> None:
    async def turn() -> None:
        async def request(ref: str) -> None:
            with store.grouped() as tx:
                tx.insert(record(ref))
            committed = store.pending()
            assert committed is not None
            await committed

        gone = asyncio.create_task(request("A"))  # its client hangs up while it waits
        stays = asyncio.create_task(request("B"))
        await asyncio.sleep(0)  # both have run to their wait: one group
        gone.cancel()
        await stays
        with pytest.raises(asyncio.CancelledError):
            await gone

    asyncio.run(turn())
    assert committed_refs(store, tmp_path) == {"A", "B"}


def test_a_failed_commit_fails_every_request_of_the_group(store: Store, tmp_path: Path) -> None:
    def no_commit(action: int, operation: str | None, *_: object) -> int:
        refused = action == sqlite3.SQLITE_TRANSACTION and operation == "COMMIT"
        return sqlite3.SQLITE_DENY if refused else sqlite3.SQLITE_OK

    async def turn() -> None:
        with store.grouped() as tx:
            tx.insert(record("A"))
        with store.grouped() as tx:
            tx.insert(record("B"))
        committed = store.pending()
        assert committed is not None
        store._db.set_authorizer(no_commit)  # the disk is full, say
        try:
            with pytest.raises(sqlite3.Error):
                await committed
        finally:
            store._db.set_authorizer(None)
        # The store goes on: the next turn's requests commit.
        with store.grouped() as tx:
            tx.insert(record("C"))
        await store.pending()  # type: ignore[misc]

    asyncio.run(turn())
    assert committed_refs(store, tmp_path) == {"C"}


def test_any_other_transaction_commits_the_open_group_first(store: Store, tmp_path: Path) -> None:
    async def turn() -> None:
        with store.grouped() as tx:
            tx.insert(record("A"))
        committed = store.pending()
        with store.write() as tx:  # the sandbox or the delivery worker
            tx.insert(record("M"))
        assert committed is not None and committed.done() and committed.exception() is None
        assert committed_refs(store, tmp_path) == {"A", "M"}

    asyncio.run(turn())


def test_without_group_commit_each_request_commits_by_itself(tmp_path: Path) -> None:
    shared = Store(str(tmp_path / "group.db"))

    async def turn() -> None:
        with shared.grouped() as tx:
            tx.insert(record("A"))
        assert shared.pending() is None
        assert committed_refs(shared, tmp_path) == {"A"}

    try:
        asyncio.run(turn())
    finally:
        shared.close()
