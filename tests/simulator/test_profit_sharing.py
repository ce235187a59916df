"""Profit sharing (v2) over real HTTP: proofs, receivers, splits, returns, their money and their races."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import paygate_v2
from paygate_v2 import _signing
from paygate_v2.models import RelationshipProof, SplitShare

from .conftest import PAY_IN, Merchant, Server, eventually, start_server, stop_server

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)
JPEG = b"\xff\xd8\xff\xe0" + bytes(64)
MARKETPLACE_ORDER: dict[str, Any] = {**PAY_IN, "product_name": "Marketplace order"}
WALLET = "09171234567"


def upload(merchant: Merchant, content: bytes, relation: str) -> RelationshipProof:
    """uploadRelationshipProof through the SDK: a signed multipart request."""
    proof: RelationshipProof = merchant.client("v2").profit_sharing.upload_proof(
        file=("agreement.pdf", content), relation_type=relation
    )
    return proof


def share(kind: str, account: str, amount: int, description: str | None = None) -> SplitShare:
    fields = {"receiverType": kind, "receiverAccount": account, "amount": amount, "description": description}
    return SplitShare.model_validate({k: v for k, v in fields.items() if v is not None})


def paid_collection(
    server: Server, client: Any, mch_order_id: str, *, profit_sharing: bool = True, pay: bool = True
) -> str:
    created = client.collections.create(mch_order_id=mch_order_id, profit_sharing=profit_sharing, **MARKETPLACE_ORDER)
    if pay:
        server.sandbox("POST", f"transactions/{created.transaction_id}/pay")
    return str(created.transaction_id)


def php(merchant: Merchant) -> tuple[int, int, int]:
    """(available, frozen, pendingSettlement) in PHP, by the account API."""
    row = merchant.client("v2").account.balance(currency="PHP").balances[0]
    return row.available, row.frozen, row.pending_settlement


def replace_merchant(server: Server, merchant: Merchant, **config: Any) -> None:
    """Re-onboard a merchant (same id and secret): to disable it or set its balance."""
    server.sandbox("POST", "merchants", json={"appId": merchant.app_id, "appSecret": merchant.secret, **config})


def setup_receivers(server: Server, merchant: Merchant) -> tuple[Any, Merchant]:
    """A client with a MERCHANT receiver (a supplier with no money yet) and a PERSONAL one."""
    client = merchant.client("v2")
    supplier = server.merchant(balances={"PHP": 0})
    proof = upload(merchant, PDF, "SUPPLIER")
    staff = upload(merchant, PNG, "STAFF")
    client.profit_sharing.add_receiver(
        receiver_type="MERCHANT",
        receiver_account=supplier.app_id,
        receiver_name="Manila Coffee Supply Inc.",
        relation_type="SUPPLIER",
        proof_id=proof.proof_id,
    )
    client.profit_sharing.add_receiver(
        receiver_type="PERSONAL",
        receiver_account=WALLET,
        receiver_name="Maria Santos",
        relation_type="STAFF",
        proof_id=staff.proof_id,
        wallet_code="GCASH",
    )
    return client, supplier


def finished(client: Any, mch_split_order_id: str) -> Any:
    return eventually(
        lambda: (
            (o := client.profit_sharing.query_split(mch_split_order_id=mch_split_order_id)).split_order_status.value
            == "FINISHED"
            and o
        )
    )


def returned(client: Any, mch_return_order_id: str) -> Any:
    return eventually(
        lambda: (
            (r := client.profit_sharing.query_return(mch_return_order_id=mch_return_order_id)).return_status.value
            != "PROCESSING"
            and r
        )
    )


# Journeys -----------------------------------------------------------------------------------------


def test_the_proof_upload_over_http(merchant: Merchant) -> None:
    proof = merchant.client("v2").profit_sharing.upload_proof(file=("agreement.pdf", PDF), relation_type="SUPPLIER")
    assert (proof.file_name, proof.file_size) == ("proof.pdf", len(PDF))


def test_proofs_are_stored_as_given(server: Server, merchant: Merchant) -> None:
    for content, name in ((PDF, "proof.pdf"), (PNG, "proof.png"), (JPEG, "proof.jpg"), (b"plain text", "proof.bin")):
        proof = upload(merchant, content, "PARTNER")
        assert (proof.file_name, proof.file_size) == (name, len(content))
        assert proof.file_sha256 == hashlib.sha256(content).hexdigest()
        assert proof.relation_type.value == "PARTNER" and proof.upload_time and proof.proof_id.startswith("prf_")
    again = upload(merchant, PDF, "PARTNER")
    assert again.proof_id != proof.proof_id  # each upload stores a new proof
    # The spec bounds a proof to 1 byte .. 512 KiB: the SDK refuses others before sending.
    for content in (b"", b"%PDF-" + bytes(512 * 1024)):
        with pytest.raises(paygate_v2.InvalidRequestError):
            upload(merchant, content, "PARTNER")


def test_split_and_return_journey(server: Server, merchant: Merchant) -> None:
    client, supplier = setup_receivers(server, merchant)
    transaction_id = paid_collection(server, client, "PS-1")
    figures = client.profit_sharing.unsplit_amount(transaction_id=transaction_id)
    assert (figures.amount, figures.refunded_amount, figures.split_amount, figures.returned_amount) == (150000, 0, 0, 0)
    assert figures.unsplit_amount == 150000 and figures.currency.value == "PHP"
    mine, theirs = php(merchant), php(supplier)
    total = sum(mine) + sum(theirs)

    split = client.profit_sharing.split(
        mch_split_order_id="SPLIT-1",
        transaction_id=transaction_id,
        receivers=[
            share("MERCHANT", supplier.app_id, 30000, "Supplier share"),
            share("PERSONAL", WALLET, 15000, "Sales commission"),
            share("MERCHANT", supplier.app_id, 5000),  # the same receiver again: the shares add up
        ],
        remark="November order",
    )
    assert split.split_order_status.value == "PROCESSING" and split.remark == "November order"
    assert split.split_order_id.startswith("spl_") and split.transaction_id == transaction_id
    assert [(d.receiver_type.value, d.receiver_account, d.amount, d.detail_status.value) for d in split.details] == [
        ("MERCHANT", supplier.app_id, 35000, "PENDING"),
        ("PERSONAL", WALLET, 15000, "PENDING"),
    ]
    held = php(merchant)
    assert held[:2] == (mine[0] - 50000, mine[1] + 50000) and sum(held) + sum(php(supplier)) == total
    figures = client.profit_sharing.unsplit_amount(transaction_id=transaction_id)
    assert (figures.split_amount, figures.unsplit_amount) == (50000, 100000)

    done = finished(client, "SPLIT-1")
    assert done.finish_time and all(d.detail_status.value == "SUCCESS" and d.finish_time for d in done.details)
    assert php(merchant)[:2] == (mine[0] - 50000, mine[1])
    assert php(supplier)[0] == 35000  # a MERCHANT receiver is credited
    assert sum(php(merchant)) + sum(php(supplier)) == total - 15000  # the personal share left the gateway

    back = client.profit_sharing.return_split(
        mch_return_order_id="RET-1",
        split_order_id=split.split_order_id,
        receiver_account=supplier.app_id,
        amount=10000,
        description="Goods returned",
    )
    assert back.return_status.value == "PROCESSING" and back.return_order_id.startswith("ret_")
    assert php(supplier)[:2] == (25000, 10000)  # held from the receiver at once
    back = returned(client, "RET-1")
    assert back.return_status.value == "SUCCESS" and back.finish_time
    assert php(supplier)[:2] == (25000, 0)
    assert php(merchant)[0] == mine[0] - 40000
    assert returned(client, "RET-1") == client.profit_sharing.query_return(
        mch_return_order_id="RET-1", return_order_id=back.return_order_id
    )
    personal = client.profit_sharing.return_split(
        mch_return_order_id="RET-2", split_order_id=split.split_order_id, receiver_account=WALLET, amount=15000
    )
    assert returned(client, personal.mch_return_order_id).return_status.value == "SUCCESS"

    after = client.profit_sharing.query_split(mch_split_order_id="SPLIT-1", split_order_id=split.split_order_id)
    assert [d.returned_amount for d in after.details] == [10000, 15000]
    figures = client.profit_sharing.unsplit_amount(transaction_id=transaction_id)
    assert (figures.split_amount, figures.returned_amount, figures.unsplit_amount) == (50000, 25000, 125000)
    assert php(merchant)[:2] == (mine[0] - 25000, mine[1])
    assert sum(php(merchant)) + sum(php(supplier)) == total
    assert not [n for n in server.notifications(merchant.app_id) if not n["event"].startswith("collection.")]


def test_a_share_to_a_disabled_merchant_fails_and_comes_back(server: Server, merchant: Merchant) -> None:
    client, supplier = setup_receivers(server, merchant)
    transaction_id = paid_collection(server, client, "PS-2")
    mine = php(merchant)
    replace_merchant(server, supplier, enabled=False)
    client.profit_sharing.split(
        mch_split_order_id="SPLIT-2",
        transaction_id=transaction_id,
        receivers=[share("MERCHANT", supplier.app_id, 40000), share("PERSONAL", WALLET, 20000)],
    )
    done = finished(client, "SPLIT-2")
    failed, paid = done.details
    assert (failed.detail_status.value, failed.failed_code, failed.failed_message) == (
        "FAILED",
        -10008,
        "Merchant Unavailable Error",
    )
    assert paid.detail_status.value == "SUCCESS"
    assert php(merchant)[:2] == (mine[0] - 20000, mine[1])  # the failed share is back
    figures = client.profit_sharing.unsplit_amount(transaction_id=transaction_id)
    assert (figures.split_amount, figures.unsplit_amount) == (20000, 130000)
    with pytest.raises(paygate_v2.TransactionCreateFailedError):  # 21023: the share is not SUCCESS
        client.profit_sharing.return_split(
            mch_return_order_id="RET-F", split_order_id=done.split_order_id, receiver_account=supplier.app_id, amount=1
        )


def test_a_return_the_receiver_cannot_cover_fails_and_moves_nothing(server: Server, merchant: Merchant) -> None:
    client, supplier = setup_receivers(server, merchant)
    transaction_id = paid_collection(server, client, "PS-3")
    split = client.profit_sharing.split(
        mch_split_order_id="SPLIT-3",
        transaction_id=transaction_id,
        receivers=[share("MERCHANT", supplier.app_id, 30000)],
    )
    finished(client, "SPLIT-3")
    replace_merchant(server, supplier, balances={"PHP": 1000})  # the supplier spent its share
    mine, theirs = php(merchant), php(supplier)
    client.profit_sharing.return_split(
        mch_return_order_id="RET-3", split_order_id=split.split_order_id, receiver_account=supplier.app_id, amount=5000
    )
    back = returned(client, "RET-3")
    assert (back.return_status.value, back.failed_code, back.failed_message) == (
        "FAILED",
        -10003,
        "Transaction Insufficient Balance",
    )
    assert (php(merchant), php(supplier)) == (mine, theirs)
    assert client.profit_sharing.unsplit_amount(transaction_id=transaction_id).unsplit_amount == 120000
    # A failed return does not count against the share: the whole of it can still come back.
    replace_merchant(server, supplier, balances={"PHP": 30000})
    client.profit_sharing.return_split(
        mch_return_order_id="RET-4", split_order_id=split.split_order_id, receiver_account=supplier.app_id, amount=30000
    )
    assert returned(client, "RET-4").return_status.value == "SUCCESS"


def test_receivers_page_newest_first_and_delete(server: Server, merchant: Merchant) -> None:
    client = merchant.client("v2")
    other = server.merchant()
    proof = upload(merchant, PDF, "DISTRIBUTOR")
    accounts = ["0917000001", "0917000002", "0917000003"]
    for account in accounts:
        client.profit_sharing.add_receiver(
            receiver_type="PERSONAL",
            receiver_account=account,
            receiver_name="Distributor",
            relation_type="DISTRIBUTOR",
            proof_id=proof.proof_id,
            wallet_code="MAYA",
        )
    added = client.profit_sharing.add_receiver(
        receiver_type="MERCHANT",
        receiver_account=other.app_id,
        receiver_name="Other merchant",
        relation_type="DISTRIBUTOR",
        proof_id=proof.proof_id,
        wallet_code="GCASH",  # ignored for a MERCHANT receiver
    )
    assert added.wallet_code is None and added.create_time
    again = client.profit_sharing.add_receiver(
        receiver_type="MERCHANT",
        receiver_account=other.app_id,
        receiver_name="Another name",
        relation_type="DISTRIBUTOR",
        proof_id=proof.proof_id,
    )
    assert again == added  # answered as it is stored, unchanged

    pages = [client.profit_sharing.list_receivers(page_no=n, page_size=3) for n in (1, 2, 3)]
    assert [p.total for p in pages] == [4, 4, 4] and (pages[0].page_no, pages[0].page_size) == (1, 3)
    assert [r.receiver_account for p in pages for r in p.receivers] == [other.app_id, *reversed(accounts)]
    assert pages[2].receivers == []
    personal = client.profit_sharing.list_receivers(receiver_type="PERSONAL")
    assert personal.total == 3 and personal.page_size == 20 and personal.receivers[0].wallet_code.value == "MAYA"

    deleted = client.profit_sharing.delete_receiver(receiver_type="PERSONAL", receiver_account=accounts[0])
    assert deleted.receiver_account == accounts[0] and deleted.wallet_code.value == "MAYA"
    with pytest.raises(paygate_v2.TransactionNotFoundError):
        client.profit_sharing.delete_receiver(receiver_type="PERSONAL", receiver_account=accounts[0])
    with pytest.raises(paygate_v2.TransactionNotFoundError):  # the type is part of who it is
        client.profit_sharing.delete_receiver(receiver_type="MERCHANT", receiver_account=accounts[1])
    assert client.profit_sharing.list_receivers().total == 3
    readded = client.profit_sharing.add_receiver(
        receiver_type="PERSONAL",
        receiver_account=accounts[0],
        receiver_name="Distributor again",
        relation_type="DISTRIBUTOR",
        proof_id=proof.proof_id,
        wallet_code="GCASH",
    )
    assert readded.receiver_name == "Distributor again"
    assert client.profit_sharing.list_receivers(page_size=1).receivers[0].receiver_account == accounts[0]


# Refusals -----------------------------------------------------------------------------------------


def test_receiver_refusals(server: Server, merchant: Merchant) -> None:
    client = merchant.client("v2")
    proof = upload(merchant, PDF, "SUPPLIER")
    foreign = upload(server.merchant(), PDF, "SUPPLIER")
    base = {
        "receiver_type": "PERSONAL",
        "receiver_account": WALLET,
        "receiver_name": "Maria Santos",
        "relation_type": "SUPPLIER",
        "proof_id": proof.proof_id,
        "wallet_code": "GCASH",
    }
    not_found = [
        {"proof_id": "pf_000000000000000000000000"},
        {"proof_id": foreign.proof_id},  # another merchant's proof
        {"relation_type": "STAFF"},  # not the relation the proof was uploaded for
        {"receiver_type": "MERCHANT", "receiver_account": "app_nobody"},
    ]
    for change in not_found:
        with pytest.raises(paygate_v2.TransactionNotFoundError):
            client.profit_sharing.add_receiver(**{**base, **change})
    for change in ({"wallet_code": None}, {"wallet_code": "WECHAT"}):  # none, or one that pays nothing out
        with pytest.raises(paygate_v2.WalletCodeError):
            client.profit_sharing.add_receiver(**{**base, **change})
    assert client.profit_sharing.list_receivers().total == 0
    with pytest.raises(paygate_v2.TransactionNotFoundError):
        client.profit_sharing.delete_receiver(receiver_type="PERSONAL", receiver_account=WALLET)


def test_split_refusals(server: Server, merchant: Merchant) -> None:
    client, supplier = setup_receivers(server, merchant)
    transaction_id = paid_collection(server, client, "PS-R")
    to_wallet = [share("PERSONAL", WALLET, 1000)]

    def split(mch_split_order_id: str, **changes: Any) -> Any:
        arguments = {"transaction_id": transaction_id, "receivers": to_wallet, **changes}
        return client.profit_sharing.split(mch_split_order_id=mch_split_order_id, **arguments)

    foreign = paid_collection(server, supplier.client("v2"), "PS-FOREIGN")
    for unknown in ("0" * 36, foreign):
        with pytest.raises(paygate_v2.TransactionNotFoundError):
            split("S-R1", transaction_id=unknown)
        with pytest.raises(paygate_v2.TransactionNotFoundError):
            client.profit_sharing.unsplit_amount(transaction_id=unknown)
    for receivers in ([share("PERSONAL", "09990000000", 1000)], [share("MERCHANT", WALLET, 1000)]):
        with pytest.raises(paygate_v2.TransactionNotFoundError):  # not registered (as that type)
            split("S-R2", receivers=receivers)
    client.profit_sharing.delete_receiver(receiver_type="MERCHANT", receiver_account=supplier.app_id)
    with pytest.raises(paygate_v2.TransactionNotFoundError):  # deleted
        split("S-R3", receivers=[share("MERCHANT", supplier.app_id, 1000)])

    unpaid = paid_collection(server, client, "PS-UNPAID", pay=False)
    closed = paid_collection(server, client, "PS-CLOSED", pay=False)
    client.collections.close(mch_order_id="PS-CLOSED")
    not_open = paid_collection(server, client, "PS-NOT-OPEN", profit_sharing=False)
    for other in (unpaid, closed, not_open):
        with pytest.raises(paygate_v2.TransactionCreateFailedError):  # 21023
            split("S-R4", transaction_id=other)
        figures = client.profit_sharing.unsplit_amount(transaction_id=other)
        assert (figures.amount, figures.unsplit_amount) == (150000, 0)

    with pytest.raises(paygate_v2.AmountExceedsLimitError):  # shares of one receiver add up past the amount
        split("S-R5", receivers=[share("PERSONAL", WALLET, 100000), share("PERSONAL", WALLET, 50001)])
    first = split("S-R6", idempotency_id="idem-split-1", receivers=[share("PERSONAL", WALLET, 100000)])
    with pytest.raises(paygate_v2.AmountExceedsLimitError):  # 50000 left
        split("S-R7", receivers=[share("PERSONAL", WALLET, 50001)])
    with pytest.raises(paygate_v2.DuplicateMerchantOrderIdError):
        split("S-R6", receivers=[share("PERSONAL", WALLET, 1)])
    with pytest.raises(paygate_v2.DuplicateIdempotencyIdError) as replay:
        split("S-R8", idempotency_id="idem-split-1")
    assert replay.value.data["splitOrderId"] == first.split_order_id
    for mch_split_order_id in ("S-R1", "S-R2", "S-R3", "S-R4", "S-R5", "S-R7", "S-R8"):
        with pytest.raises(paygate_v2.TransactionNotFoundError):  # refused: nothing was created
            client.profit_sharing.query_split(mch_split_order_id=mch_split_order_id)
    with pytest.raises(paygate_v2.TransactionNotFoundError):
        client.profit_sharing.query_split(mch_split_order_id="S-R6", split_order_id="sp_000000000000000000000000")


def test_split_needs_available_money(server: Server) -> None:
    """21014 until the collection's own amount is settled into `available`."""
    poor = server.merchant(balances={"PHP": 1000})
    client, _ = setup_receivers(server, poor)
    transaction_id = paid_collection(server, client, "PS-POOR")
    with pytest.raises(paygate_v2.MerchantBalanceInsufficientError):
        client.profit_sharing.split(
            mch_split_order_id="S-POOR", transaction_id=transaction_id, receivers=[share("PERSONAL", WALLET, 1001)]
        )
    assert php(poor) == (1000, 0, 150000)
    server.sandbox("POST", "settle", json={"appId": poor.app_id})
    client.profit_sharing.split(
        mch_split_order_id="S-POOR", transaction_id=transaction_id, receivers=[share("PERSONAL", WALLET, 150000)]
    )
    assert php(poor) == (1000, 150000, 0)


def test_split_return_refusals(server: Server, merchant: Merchant) -> None:
    client, supplier = setup_receivers(server, merchant)
    transaction_id = paid_collection(server, client, "PS-RR")
    split = client.profit_sharing.split(
        mch_split_order_id="S-RR",
        transaction_id=transaction_id,
        receivers=[share("MERCHANT", supplier.app_id, 20000), share("PERSONAL", WALLET, 10000)],
    )
    finished(client, "S-RR")

    def give_back(mch_return_order_id: str, **changes: Any) -> Any:
        arguments = {"split_order_id": split.split_order_id, "receiver_account": WALLET, "amount": 1000, **changes}
        return client.profit_sharing.return_split(mch_return_order_id=mch_return_order_id, **arguments)

    other_split = setup_receivers(server, supplier)[0]
    foreign_tx = paid_collection(server, other_split, "PS-OTHER")
    foreign = other_split.profit_sharing.split(
        mch_split_order_id="S-OTHER", transaction_id=foreign_tx, receivers=[share("PERSONAL", WALLET, 1000)]
    )
    for changes in (
        {"split_order_id": "sp_000000000000000000000000"},
        {"split_order_id": foreign.split_order_id},  # another merchant's split
        {"split_order_id": transaction_id},  # not a split at all
        {"receiver_account": "09990000000"},  # no share in this split
    ):
        with pytest.raises(paygate_v2.TransactionNotFoundError):
            give_back("R-R1", **changes)
    with pytest.raises(paygate_v2.AmountExceedsLimitError):
        give_back("R-R2", amount=10001)
    give_back("R-R3", amount=6000, idempotency_id="idem-return-1")
    with pytest.raises(paygate_v2.AmountExceedsLimitError):  # a PROCESSING return counts
        give_back("R-R4", amount=4001)
    with pytest.raises(paygate_v2.DuplicateMerchantOrderIdError):
        give_back("R-R3", amount=1)
    with pytest.raises(paygate_v2.DuplicateIdempotencyIdError) as replay:
        give_back("R-R5", idempotency_id="idem-return-1")
    assert replay.value.data["mchReturnOrderId"] == "R-R3"
    assert returned(client, "R-R3").return_status.value == "SUCCESS"
    with pytest.raises(paygate_v2.AmountExceedsLimitError):  # and so does a SUCCESS one
        give_back("R-R6", amount=4001)
    give_back("R-R7", amount=4000)
    for mch_return_order_id in ("R-R1", "R-R2", "R-R4", "R-R5", "R-R6"):
        with pytest.raises(paygate_v2.TransactionNotFoundError):
            client.profit_sharing.query_return(mch_return_order_id=mch_return_order_id)
    with pytest.raises(paygate_v2.TransactionNotFoundError):
        client.profit_sharing.query_return(mch_return_order_id="R-R3", return_order_id="sr_000000000000000000000000")


def signed_post(server: Server, merchant: Merchant, path: str, fields: dict[str, Any]) -> dict[str, Any]:
    body = {"appId": merchant.app_id, "timestamp": str(int(time.time() * 1000)), **fields}
    body["sign"] = _signing.sign(body, merchant.secret)
    response = server.http.post(path, content=json.dumps(body), headers={"content-type": "application/json"})
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def test_amount_not_a_positive_integer(server: Server, merchant: Merchant) -> None:
    client, _ = setup_receivers(server, merchant)
    transaction_id = paid_collection(server, client, "PS-AMT")
    split = client.profit_sharing.split(
        mch_split_order_id="S-AMT", transaction_id=transaction_id, receivers=[share("PERSONAL", WALLET, 1000)]
    )
    finished(client, "S-AMT")
    for amount in (0, -5, 1.5):
        answer = signed_post(
            server,
            merchant,
            "/v2/profit-sharing/return/create",
            {
                "mchReturnOrderId": "R-AMT",
                "splitOrderId": split.split_order_id,
                "receiverAccount": WALLET,
                "amount": amount,
            },
        )
        assert answer["code"] == 21021


def test_a_share_amount_not_a_positive_integer(server: Server, merchant: Merchant) -> None:
    client, _ = setup_receivers(server, merchant)
    transaction_id = paid_collection(server, client, "PS-AMT2")
    answer = signed_post(
        server,
        merchant,
        "/v2/profit-sharing/split/create",
        {
            "mchSplitOrderId": "S-AMT2",
            "transactionId": transaction_id,
            "receivers": [{"receiverType": "PERSONAL", "receiverAccount": WALLET, "amount": 0}],
        },
    )
    assert answer["code"] == 21021


# Races --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def racing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of two worker processes: the splits race across threads and processes."""
    running = start_server(tmp_path_factory.mktemp("split-race"), workers=2)
    yield running
    stop_server(running)


def test_parallel_splits_never_exceed_the_unsplit_amount(racing: Server) -> None:
    server = racing
    merchant = server.merchant(balances={"PHP": 1_000_000})
    client, supplier = setup_receivers(server, merchant)
    transaction_id = paid_collection(server, client, "PS-RACE")
    mine, theirs = php(merchant), php(supplier)
    start = threading.Barrier(20)

    def race(n: int) -> int:
        racer = merchant.client("v2", max_retries=0)
        start.wait()
        try:
            racer.profit_sharing.split(
                mch_split_order_id=f"S-RACE-{n}",
                transaction_id=transaction_id,
                receivers=[share("MERCHANT", supplier.app_id, 10000)],
            )
        except paygate_v2.AmountExceedsLimitError as refused:
            return refused.code
        finally:
            racer.close()
        return 10000

    with ThreadPoolExecutor(20) as pool:
        outcomes = list(pool.map(race, range(20)))
    assert sorted(outcomes) == [10000] * 15 + [21010] * 5
    assert client.profit_sharing.unsplit_amount(transaction_id=transaction_id).unsplit_amount == 0
    assert php(merchant)[:2] == (mine[0] - 150000, mine[1] + 150000)
    for n, outcome in enumerate(outcomes):
        if outcome == 10000:
            finished(client, f"S-RACE-{n}")
    assert php(merchant)[:2] == (mine[0] - 150000, mine[1])
    assert php(supplier)[0] == theirs[0] + 150000
