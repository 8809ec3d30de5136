"""A service-like peo node in Python: a warehouse with two handlers.

It receives an object (bytes, as from a queue or an HTTP request), visits it, and hands
it on as bytes to whoever has the capability the object needs next: here a payments
node in the same process, standing in for another service.

    python examples/python/service.py
"""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List

import peo

PLAN: Dict[str, Any] = {
    "Comment": "reserve, label, charge",
    "StartAt": "Reserve",
    "States": {
        "Reserve": {"Type": "Task", "Resource": "inventory.reserve", "ResultPath": "$.reservation", "Next": "Label"},
        "Label": {"Type": "Task", "Resource": "shipping.label", "ResultPath": "$.label", "Next": "Charge"},
        "Charge": {
            "Type": "Task",
            "Resource": "payment.charge",
            "ResultPath": "$.payment",
            "Retry": [{"ErrorEquals": ["Bank.Busy"], "IntervalSeconds": 1, "MaxAttempts": 2}],
            "End": True,
        },
    },
}


def warehouse_node(key: peo.SigningKey, trusted: List[bytes]) -> peo.Node:
    node = peo.Node(
        "warehouse-1",
        domain="logistics",
        key=key,
        trusted_keys=trusted,
        facts={"site": "lyon"},
        policy='permit(principal, action, resource) when { context.labels.contains("orders") };',
    )

    @node.handler("inventory.reserve")
    def reserve(order: Dict[str, Any], ctx: peo.TaskContext) -> Dict[str, Any]:
        if order["qty"] > 10:
            raise peo.TaskFailed("Inventory.OutOfStock", f"only 10 of {order['sku']} left")
        print(f"  [warehouse] reserve {order['qty']} x {order['sku']} (key {ctx.idempotency_key})")
        return {"held": order["qty"], "bin": "B-17"}

    @node.handler("shipping.label")
    async def label(order: Dict[str, Any]) -> Dict[str, Any]:
        await asyncio.sleep(0)  # an async call to a carrier's API would go here
        return {"carrier": "post", "tracking": f"PX{order['order']:06d}"}

    return node


def payments_node(key: peo.SigningKey, trusted: List[bytes]) -> peo.Node:
    node = peo.Node("bank-1", domain="payments", key=key, trusted_keys=trusted)

    @node.handler("payment.charge")
    def charge(order: Dict[str, Any]) -> Dict[str, Any]:
        print(f"  [bank] charge order {order['order']}")
        return {"charged": 59.8, "currency": "EUR"}

    return node


def main() -> int:
    shop, wh_key, bank_key = peo.SigningKey.generate(), peo.SigningKey.generate(), peo.SigningKey.generate()
    trusted = [k.public_key() for k in (shop, wh_key, bank_key)]
    obj = peo.Object.create(PLAN, {"labels": ["orders"]}, {"order": 1042, "sku": "tea-1kg", "qty": 2}, key=shop)
    incoming: bytes = bytes(obj)  # what the service receives

    visit = warehouse_node(wh_key, trusted).visit(incoming)
    print(f"warehouse: {visit.appended} records, then {visit.disposition.kind} to {visit.disposition.capability}")
    outgoing: bytes = visit.bytes  # what the service hands on

    done = payments_node(bank_key, trusted).visit(outgoing)
    print(f"bank: {done.appended} records, then {done.disposition.kind} ({done.disposition.status})")
    for record in done.object.memory:
        by = record.node.id or "shop"
        print(f"  #{record.seq} visit {record.visit} {record.action:<9} {record.state or '-':<8} by {by}")
    report = done.object.verify(trusted_keys=[k.public_key() for k in (shop, wh_key, bank_key)])
    print(f"verified: {report.records_checked} records, {report.signatures_checked} signatures")
    return 0 if done.object.status == "succeeded" else 1


if __name__ == "__main__":
    raise SystemExit(main())
