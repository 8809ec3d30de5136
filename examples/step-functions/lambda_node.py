"""The peo node that runs as a Lambda function (``peo-node``): it prices orders (a whole
object, created and finished inside the invocation) and starts fulfilments (an object
created with the workflow's task token, reserved here, then sent to the mesh).

Lambda runs it as ``lambda_node.handler``; offline, ``python -m awslambdaric
lambda_node.handler`` does, against local_aws.py. Settings come from the environment:
``PEO_NATS_URL`` (the mesh), ``PEO_S3_BUCKET`` (objects past 256 KiB), ``PEO_NODE_KEY``
(the node's signing key: 64 hex digits of its seed; it signs the node's visits and the
objects it creates, so a relay given ``--trust`` with its public key reports them) and
boto3's own (``AWS_ENDPOINT_URL`` ...).
"""

import os

import peo
import peo.aws_lambda

seed = os.environ.get("PEO_NODE_KEY")
key = peo.SigningKey.from_bytes(bytes.fromhex(seed)) if seed else None
node = peo.Node("lambda-eu-west-1", domain="aws", trust="any", key=key)


@node.handler("order.validate")
def validate(order):
    if not order.get("lines"):
        raise peo.TaskFailed("Order.Invalid", "an order needs at least one line")
    return order


@node.handler("order.price")
def price(order):
    total = sum(line["qty"] * line["unit"] for line in order["lines"])
    return {**order, "total": total}


@node.handler("order.reserve")
def reserve(order):
    return {**order, "reserved": True}


mesh = peo.JetStream(os.environ["PEO_NATS_URL"], name="lambda") if os.environ.get("PEO_NATS_URL") else None
handler = peo.aws_lambda.handler(node, mesh=mesh)
