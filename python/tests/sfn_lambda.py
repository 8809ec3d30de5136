"""The Lambda function the Step Functions tests run in awslambdaric: the example's node
(lambda_node.py) with two more capabilities, one that makes an object too large to pass
inline and one that fails."""

import lambda_node  # examples/step-functions, on PYTHONPATH
import peo

node = lambda_node.node


@node.handler("test.blob")
def blob(data):
    return {**data, "blob": "x" * (200 * 1024)}


@node.handler("test.check")
def check(data):
    return {"blob_bytes": len(data.get("blob", "")), "n": data.get("n")}


@node.handler("test.refuse")
def refuse(data):
    raise peo.TaskFailed("Test.Refused", "refused on purpose")


handler = lambda_node.handler
