"""7. Profit sharing: proofs, receivers, splits of COMPLETED collections, and their returns.

Records (each `data` is what the operations answer):

    proof         ref = id                           a stored relationship proof
    receiver      ref = "<receiverType>:<account>"   ACTIVE, or DELETED (its ref then freed for a re-add)
    split         ref = mchSplitOrderId, parent = the collection, one detail per receiver in `data`
    split_return  ref = mchReturnOrderId, parent = the split

Money. A split moves the shares' sum from the merchant's `available` into
`frozen` at once (MERCHANT_BALANCE_INSUFFICIENT when short). After the processing time each PENDING
detail ends SUCCESS - the share leaves `frozen`, and a MERCHANT receiver's
`available` is credited with it, so that balances across merchants always add
up - or FAILED (MERCHANT_UNAVAILABLE when the receiving merchant is disabled), the share
back in `available`. A split return holds the amount in a MERCHANT receiver's
`frozen` at once (when its `available` is short, the return will end FAILED
with INSUFFICIENT_BALANCE and nothing moves); SUCCESS moves it into the merchant's
`available` and the detail's `returnedAmount`. A PERSONAL receiver is a
wallet outside the gateway: its side always succeeds in the sandbox.

The unsplit amount of a collection is derived, never stored: `amount` -
`refundedAmount` - shares PENDING or SUCCESS + successful returns.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from ..clock import gateway_time
from ..runtime import Runtime, VersionRuntime
from ..store import Insufficient, Record, Tx
from ..worker import on_due
from .base import Call, by_gateway_id, find_own, new_id, service

MAX_PROOF_BYTES = 512 * 1024
MAGIC = ((b"%PDF-", ".pdf"), (b"\x89PNG\r\n\x1a\n", ".png"), (b"\xff\xd8\xff", ".jpg"))


# 7.1 Proofs ---------------------------------------------------------------------------------------


@service("uploadRelationshipProof")
def upload_relationship_proof(call: Call, tx: Tx) -> dict[str, Any]:
    content = call.files["file"]
    if not 0 < len(content) <= MAX_PROOF_BYTES:
        # RelationshipProof.fileSize is 1..524288: a proof outside that cannot be answered.
        call.refuse("PARAM_ERROR")
    proof_id = new_id("proof")
    data = {
        "proofId": proof_id,
        "relationType": call.params["relationType"],
        "fileName": proof_file_name(content),
        "fileSize": len(content),
        "fileSha256": hashlib.sha256(content).hexdigest(),
        "uploadTime": call.now,
    }
    meta = {"content": base64.b64encode(content).decode()}
    record = call.new_record("proof", proof_id, data, status="STORED", meta=meta, record_id=proof_id)
    call.create(tx, record)
    return record.data


def proof_file_name(content: bytes) -> str:
    """The upload's name is not passed through: "proof" and the extension its first bytes show."""
    for magic, extension in MAGIC:
        if content.startswith(magic):
            return "proof" + extension
    return "proof.bin"


# 7.2-7.4 Receivers --------------------------------------------------------------------------------


@service("addReceiver")
def add_receiver(call: Call, tx: Tx) -> dict[str, Any]:
    p = call.params
    proof = by_gateway_id(tx, call, p["proofId"], ("proof",))
    if proof.data["relationType"] != p["relationType"]:
        call.refuse("TRANSACTION_NOT_FOUND")
    kind, account = p["receiverType"], p["receiverAccount"]
    data: dict[str, Any] = {
        "receiverType": kind,
        "receiverAccount": account,
        "receiverName": p["receiverName"],
        "relationType": p["relationType"],
        "proofId": proof.id,
    }
    if kind == "MERCHANT":
        if tx.merchant(account) is None:
            call.refuse("TRANSACTION_NOT_FOUND")
    else:
        wallet = p.get("walletCode")
        channel = call.runtime.channels("WalletCode").get(wallet or "")
        if channel is None or not channel.get("payout"):
            call.refuse(call.runtime.invalid_code("WalletCode"))
        data["walletCode"] = wallet
    existing = tx.find(call.merchant.app_id, "receiver", receiver_ref(kind, account))
    if existing is not None:
        return existing.data
    data["createTime"] = call.now
    record = call.new_record("receiver", receiver_ref(kind, account), data, status="ACTIVE", parent=proof.id)
    call.create(tx, record)
    return record.data


@service("queryReceivers", writes=False)
def query_receivers(call: Call, tx: Tx) -> dict[str, Any]:
    p = call.params
    page, size = p["pageNo"], p["pageSize"]
    where, args = "", [call.merchant.app_id]
    if p.get("receiverType"):
        where, args = " AND json_extract(data, '$.receiverType') = ?", [*args, p["receiverType"]]
    ids = [
        row[0]
        for row in tx.db.execute(
            f"SELECT id FROM records WHERE app_id = ? AND kind = 'receiver' AND status = 'ACTIVE'{where}"  # noqa: S608 - fixed text
            " ORDER BY created_ms DESC, rowid DESC",
            args,
        ).fetchall()
    ]
    shown = ids[(page - 1) * size : page * size]
    receivers = [record.data for record in (tx.get(i) for i in shown) if record is not None]
    return {"receivers": receivers, "total": len(ids), "pageNo": page, "pageSize": size}


@service("deleteReceiver")
def delete_receiver(call: Call, tx: Tx) -> dict[str, Any]:
    p = call.params
    record = tx.find(call.merchant.app_id, "receiver", receiver_ref(p["receiverType"], p["receiverAccount"]))
    if record is None:
        call.refuse("TRANSACTION_NOT_FOUND")
    record.status = "DELETED"
    record.meta["deletedMs"] = call.now_ms
    tx.update(record)
    # Free the ref, so that the receiver can be added again as a new registration.
    tx.db.execute("UPDATE records SET ref = ? WHERE id = ?", (f"{record.ref}#deleted:{record.id}", record.id))
    return record.data


def receiver_ref(receiver_type: str, account: str) -> str:
    return f"{receiver_type}:{account}"


# 7.5 Unsplit amount -------------------------------------------------------------------------------


@service("queryUnsplitAmount", writes=False)
def query_unsplit_amount(call: Call, tx: Tx) -> dict[str, Any]:
    return split_figures(tx, by_gateway_id(tx, call, call.params["transactionId"], ("collection",)))


def splittable(collection: Record) -> bool:
    return collection.status == "COMPLETED" and collection.data.get("profitSharing") is True


def split_figures(tx: Tx, collection: Record) -> dict[str, Any]:
    """The UnsplitAmount of a collection, from its split orders."""
    split = returned = 0
    for order in tx.children(collection.id, "split"):
        for detail in order.data["details"]:
            if detail["detailStatus"] in ("PENDING", "SUCCESS"):
                split += detail["amount"]
            returned += detail.get("returnedAmount", 0)
    refunded = int(collection.data.get("refundedAmount", 0))
    left = collection.amount - refunded - split + returned
    return {
        "transactionId": collection.id,
        "currency": collection.currency,
        "amount": collection.amount,
        "refundedAmount": refunded,
        "splitAmount": split,
        "returnedAmount": returned,
        # A refund made after a split could take the figure below zero: nothing is left then.
        "unsplitAmount": max(0, left) if splittable(collection) else 0,
    }


# 7.6-7.7 Splits -----------------------------------------------------------------------------------


@service("createSplit")
def create_split(call: Call, tx: Tx) -> dict[str, Any]:
    p = call.params
    call.refuse_repeat(tx, "split", p["mchSplitOrderId"])
    collection = by_gateway_id(tx, call, p["transactionId"], ("collection",))
    if not splittable(collection):
        call.refuse("TRANSACTION_CREATE_FAILED")
    shares: dict[tuple[str, str], int] = {}
    descriptions: dict[str, list[str]] = {}
    for share in p["receivers"]:
        key = (share["receiverType"], share["receiverAccount"])
        shares[key] = shares.get(key, 0) + share["amount"]
        if share.get("description"):
            descriptions.setdefault(receiver_ref(*key), []).append(share["description"])
    for kind, account in shares:
        if tx.find(call.merchant.app_id, "receiver", receiver_ref(kind, account)) is None:
            call.refuse("TRANSACTION_NOT_FOUND")
    total = sum(shares.values())
    if total > split_figures(tx, collection)["unsplitAmount"]:
        call.refuse("AMOUNT_EXCEEDS_LIMIT")
    failed_code = call.respond_to_test_value()
    currency = str(collection.currency)
    call.debit(tx, currency, total)
    data: dict[str, Any] = {
        "splitOrderId": "",
        "mchSplitOrderId": p["mchSplitOrderId"],
        "transactionId": collection.id,
        "currency": currency,
        "splitOrderStatus": "PROCESSING",
        "details": [
            {
                "receiverType": kind,
                "receiverAccount": account,
                "amount": amount,
                "returnedAmount": 0,
                "detailStatus": "PENDING",
            }
            for (kind, account), amount in shares.items()
        ],
        "createTime": call.now,
    }
    if p.get("remark") is not None:
        data["remark"] = p["remark"]
    record = call.new_record(
        "split",
        p["mchSplitOrderId"],
        data,
        status="PROCESSING",
        parent=collection.id,
        amount=total,
        currency=currency,
        due_ms=call.now_ms + call.settings.processing_ms,
        meta={"failedCode": failed_code, "descriptions": descriptions},
    )
    data["splitOrderId"] = record.id
    call.create(tx, record)
    return record.data


@service("querySplit", writes=False)
def query_split(call: Call, tx: Tx) -> dict[str, Any]:
    p = call.params
    return find_own(tx, call, "split", p["mchSplitOrderId"], p.get("splitOrderId"), "splitOrderId").data


@on_due("split")
def process_split(tx: Tx, runtime: Runtime, record: Record, now_ms: int) -> None:
    """Every PENDING detail ends SUCCESS or FAILED; the order FINISHED."""
    version = runtime.versions[record.version]
    currency = str(record.currency)
    time = gateway_time(now_ms)
    for detail in record.data["details"]:
        if detail["detailStatus"] != "PENDING":
            continue
        amount = detail["amount"]
        code = record.meta.get("failedCode") or _share_failure(tx, version, detail)
        if code is None:
            tx.move(record.app_id, currency, frozen=-amount)
            if detail["receiverType"] == "MERCHANT":
                tx.move(detail["receiverAccount"], currency, available=amount)
            detail.update(detailStatus="SUCCESS", finishTime=time)
        else:
            tx.move(record.app_id, currency, frozen=-amount, available=amount)
            detail.update(detailStatus="FAILED", failedCode=code, failedMessage=version.message(code), finishTime=time)
    record.status = "FINISHED"
    record.data.update(splitOrderStatus="FINISHED", finishTime=time)
    record.due_ms = None
    tx.update(record)


def _share_failure(tx: Tx, version: VersionRuntime, detail: dict[str, Any]) -> int | None:
    """Why a share cannot be paid: a receiving merchant that is disabled (or gone)."""
    if detail["receiverType"] == "MERCHANT":
        receiver = tx.merchant(detail["receiverAccount"])
        if receiver is None or not receiver.enabled:
            return version.model.failed_code("MERCHANT_UNAVAILABLE").value
    return None


# 7.8-7.9 Split returns ----------------------------------------------------------------------------


@service("createSplitReturn")
def create_split_return(call: Call, tx: Tx) -> dict[str, Any]:
    p = call.params
    call.refuse_repeat(tx, "split_return", p["mchReturnOrderId"])
    split = by_gateway_id(tx, call, p["splitOrderId"], ("split",))
    detail = _detail(split, p["receiverAccount"])
    if detail is None:
        call.refuse("TRANSACTION_NOT_FOUND")
    if detail["detailStatus"] != "SUCCESS":
        call.refuse("TRANSACTION_CREATE_FAILED")
    kind, account, amount = detail["receiverType"], detail["receiverAccount"], p["amount"]
    taken = sum(
        r.amount
        for r in tx.children(split.id, "split_return")
        if r.meta["receiverType"] == kind and r.data["receiverAccount"] == account and r.status != "FAILED"
    )
    if taken + amount > detail["amount"]:
        call.refuse("AMOUNT_EXCEEDS_LIMIT")
    currency = str(split.currency)
    failed_code = call.respond_to_test_value()
    held = False
    if failed_code is None and kind == "MERCHANT":
        try:
            tx.move(account, currency, available=-amount, frozen=amount)
            held = True
        except Insufficient:
            failed_code = call.op.model.failed_code("INSUFFICIENT_BALANCE").value
    data = {
        "returnOrderId": "",
        "mchReturnOrderId": p["mchReturnOrderId"],
        "splitOrderId": split.id,
        "receiverAccount": account,
        "amount": amount,
        "returnStatus": "PROCESSING",
        "createTime": call.now,
    }
    record = call.new_record(
        "split_return",
        p["mchReturnOrderId"],
        data,
        status="PROCESSING",
        parent=split.id,
        amount=amount,
        currency=currency,
        due_ms=call.now_ms + call.settings.processing_ms,
        meta={"receiverType": kind, "held": held, "failedCode": failed_code, "description": p.get("description")},
    )
    data["returnOrderId"] = record.id
    call.create(tx, record)
    return record.data


@service("querySplitReturn", writes=False)
def query_split_return(call: Call, tx: Tx) -> dict[str, Any]:
    p = call.params
    return find_own(tx, call, "split_return", p["mchReturnOrderId"], p.get("returnOrderId"), "returnOrderId").data


def _detail(split: Record, account: str) -> dict[str, Any] | None:
    """The split's detail of `account` (a SUCCESS one first, should the account be there twice)."""
    details = [d for d in split.data["details"] if d["receiverAccount"] == account]
    return next((d for d in details if d["detailStatus"] == "SUCCESS"), details[0] if details else None)


@on_due("split_return")
def process_split_return(tx: Tx, runtime: Runtime, record: Record, now_ms: int) -> None:
    """A PROCESSING return ends SUCCESS (the money back with the merchant) or FAILED (nothing moves)."""
    record.due_ms = None
    if record.status != "PROCESSING":
        tx.update(record)
        return
    version = runtime.versions[record.version]
    currency, amount, account = str(record.currency), record.amount, record.data["receiverAccount"]
    time = gateway_time(now_ms)
    code = record.meta.get("failedCode")
    held = record.meta.get("held")
    if code is None:
        if held:
            tx.move(account, currency, frozen=-amount)
        tx.move(record.app_id, currency, available=amount)
        split = tx.get(str(record.parent))
        if split is not None:
            for detail in split.data["details"]:
                if detail["receiverType"] == record.meta["receiverType"] and detail["receiverAccount"] == account:
                    detail["returnedAmount"] = detail.get("returnedAmount", 0) + amount
                    break
            tx.update(split)
        record.status = "SUCCESS"
        record.data.update(returnStatus="SUCCESS", finishTime=time)
    else:
        if held:
            tx.move(account, currency, frozen=-amount, available=amount)
        record.status = "FAILED"
        record.data.update(returnStatus="FAILED", finishTime=time, failedCode=code, failedMessage=version.message(code))
    tx.update(record)
