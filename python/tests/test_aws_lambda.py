"""peo inside AWS Step Functions, offline: the Lambda handler's payloads in process, and
whole executions on moto's Step Functions with the handler in awslambdaric, nodes on
``nats-server -js`` and the relay (docs/step-functions.md)."""

import base64
import json
import pathlib
import signal
import subprocess
import sys
import threading
import time

import peo
import peo.aws_lambda
import pytest

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "step-functions"
sys.path.insert(0, str(EXAMPLE))

PASS = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
# The Lambda node's signing key (lambda_node.py reads it from PEO_NODE_KEY).
LAMBDA_SEED = bytes(range(32))
FAIL = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Order.Invalid", "Cause": "no lines"}}}


def obj_before(reply):
    return peo.Object.from_bytes(base64.b64decode(reply["object"]))


def node():
    return peo.Node("lambda", domain="aws", trust="any")


def test_a_payload_creates_or_carries_an_object_and_the_reply_carries_it_on():
    handle = peo.aws_lambda.handler(node())
    reply = handle({"intent": PASS, "input": {"n": 1}}, None)
    assert (reply["status"], reply["output"], reply["disposition"]["kind"]) == ("succeeded", {"n": 1}, "terminated")
    obj = peo.Object.from_bytes(base64.b64decode(reply["object"]))
    assert (obj.id, obj.head, len(obj)) == (reply["id"], reply["head"], reply["records"])
    obj.verify()

    # An object mid-journey goes back out as it is, and comes in as `lambda:invoke` returns it.
    plan = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "elsewhere.step", "End": True}}}
    reply = handle({"intent": plan}, None)
    assert (reply["status"], reply["disposition"]["capability"]) == ("running", "elsewhere.step")
    again = handle({"StatusCode": 200, "Payload": reply}, None)
    # The same object, one visit longer (it delegates again: nobody here has the step).
    assert again["id"] == reply["id"] and again["records"] > reply["records"]
    longer = peo.Object.from_bytes(base64.b64decode(again["object"]))
    assert longer.memory[: reply["records"]] == obj_before(reply).memory


def test_what_the_handler_creates_is_signed_by_its_nodes_key():
    key = peo.SigningKey.generate()
    reply = peo.aws_lambda.handler(peo.Node("lambda", domain="aws", trust="any", key=key))({"intent": PASS}, None)
    # Every visit, the genesis included, verifies under that key alone.
    assert obj_before(reply).verify([key.public_key()]).valid
    with pytest.raises(peo.SignatureError, match="not a trusted key"):
        obj_before(reply).verify([peo.SigningKey.generate().public_key()])


def test_failures_raise_under_the_objects_own_error_name():
    handle = peo.aws_lambda.handler(node())
    with pytest.raises(peo.aws_lambda.ObjectFailed) as e:
        handle({"intent": FAIL}, None)
    assert type(e.value).__name__ == "Order.Invalid" and e.value.error == "Order.Invalid"
    assert str(e.value) == "no lines"
    # peo's own refusals: peo.<Kind>.
    for payload, name in [
        ({"object": base64.b64encode(b"not an object").decode()}, "peo.Decode"),
        ({"object": "!!"}, None),
    ]:
        with pytest.raises(Exception) as e:
            handle(payload, None)
        if name:
            assert type(e.value).__name__ == name, e.value
        else:
            assert isinstance(e.value, peo.DecodeError)
    strict = peo.Node("strict", domain="aws", trusted_keys=[peo.SigningKey.generate().public_key()])
    obj = peo.Object.create(PASS)
    with pytest.raises(peo.aws_lambda.ObjectFailed) as e:
        peo.aws_lambda.handler(strict)({"object": base64.b64encode(obj.to_bytes()).decode()}, None)
    assert type(e.value).__name__ == "peo.Signature"
    # A policy refusal is its own name.
    refusing = peo.Node("shut", domain="aws", trust="any", policy="forbid(principal, action, resource);")
    with pytest.raises(peo.aws_lambda.ObjectFailed) as e:
        peo.aws_lambda.handler(refusing)({"intent": PASS}, None)
    assert type(e.value).__name__ == "peo.Policy" and "may not act" in str(e.value), e.value
    with pytest.raises(peo.InvalidArgumentError, match="exactly one of"):
        handle({"input": {}}, None)
    with pytest.raises(peo.InvalidArgumentError, match="comes with an `intent`"):
        handle({"object": base64.b64encode(obj.to_bytes()).decode(), "taskToken": "t"}, None)
    with pytest.raises(TypeError, match="mesh"):
        handle({"intent": PASS, "taskToken": "t"}, None)


@pytest.fixture(scope="module")
def stack():
    from stack import Stack

    env = {"PYTHONPATH": f"{pathlib.Path(__file__).parent}:{EXAMPLE}", "PEO_NODE_KEY": LAMBDA_SEED.hex()}
    s = Stack(lambda_env=env, handler="sfn_lambda.handler")
    yield s
    s.close()


def serve_in_thread(url, the_node):
    stop = threading.Event()
    t = threading.Thread(target=the_node.serve, args=(url,), kwargs={"stop": stop}, daemon=True)
    t.start()
    return stop, t


def start_relay(stack, **kw):
    stop = threading.Event()
    counts = {}

    def run():
        counts.update(
            peo.aws_lambda.relay(peo.JetStream(stack.nats_url), sfn=stack.client("stepfunctions"), stop=stop, **kw)
        )

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return stop, t, counts


def invoke(payload_path="$", **extra):
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "peo-node", "Payload.$": payload_path},
        **extra,
    }


def away(plan, input_path="$", **task):
    """A workflow whose one Task hands a new object (from `plan`) to the mesh with its
    task token and waits for it; `task` adds fields to the Task (Catch, HeartbeatSeconds)."""
    payload = {"intent": plan, "taskToken.$": "$$.Task.Token"}
    payload.update({"input.$": input_path} if isinstance(input_path, str) else {"input": input_path})
    states = {
        "Away": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": "peo-node", "Payload": payload},
            "End": True,
            **task,
        }
    }
    if "Catch" in task:
        states["Caught"] = {"Type": "Pass", "Parameters": {"caught.$": "$.error"}, "End": True}
    return {"StartAt": "Away", "States": states}


def test_an_object_past_256_kib_goes_by_pointer_and_arrives_intact(stack):
    # The first Task makes the object large; its reply names it in S3; the second Task
    # passes that reply on, and the Lambda fetches the object and checks it against it.
    plan = {
        "StartAt": "Grow",
        "States": {
            "Grow": {"Type": "Task", "Resource": "test.blob", "Next": "Pause"},
            "Pause": {"Type": "Wait", "Seconds": 1, "Next": "Check"},
            "Check": {"Type": "Task", "Resource": "test.check", "End": True},
        },
    }
    workflow = {
        "StartAt": "First",
        "States": {
            "First": invoke("$", ResultSelector={"Payload.$": "$.Payload"}, Next="Pause"),
            "Pause": {"Type": "Wait", "Seconds": 2, "Next": "Second"},
            "Second": invoke("$.Payload", End=True),
        },
    }
    # The first visit ends dormant in `Pause` (a reply by pointer); after the workflow's
    # own wait, the second Lambda fetches it, checks it and finishes it.
    d = stack.run(stack.machine(workflow, "pointer"), {"intent": plan, "input": {"n": 7}}, "pointer-1")
    assert d["status"] == "SUCCEEDED", stack.stack_log()[-3000:]
    first = next(
        json.loads(e["taskSucceededEventDetails"]["output"])["Payload"]
        for e in stack.history(d["executionArn"])
        if "taskSucceededEventDetails" in e
    )
    assert (first["status"], first["disposition"]["kind"]) == ("dormant", "dormant")
    assert "object" not in first and first["pointer"]["key"].startswith(f"peo/{first['id']}/")
    out = json.loads(d["output"])["Payload"]
    assert (out["status"], out["output"]) == ("succeeded", {"blob_bytes": 200 * 1024, "n": 7})
    assert out["id"] == first["id"] and "pointer" in out
    body = stack.s3.get_object(Bucket=out["pointer"]["bucket"], Key=out["pointer"]["key"])["Body"].read()
    assert len(base64.b64encode(body)) > 256 * 1024 and len(json.dumps(out)) < 256 * 1024
    obj = peo.Object.from_bytes(body)
    assert (obj.id, obj.head) == (out["id"], out["pointer"]["head"])
    obj.verify()


def test_the_plain_lambda_arn_form_and_routing_on_the_objects_status(stack):
    # With the function's ARN as the Resource, the Task's result is the reply itself: a
    # Choice routes on `$.status`, and a Retry on the object's own error name retries it.
    arn = "arn:aws:lambda:us-east-1:123456789012:function:peo-node"
    workflow = {
        "StartAt": "Visit",
        "States": {
            "Visit": {
                "Type": "Task",
                "Resource": arn,
                "Retry": [{"ErrorEquals": ["Order.Invalid"], "MaxAttempts": 1, "IntervalSeconds": 1}],
                "Catch": [{"ErrorEquals": ["Order.Invalid"], "ResultPath": "$.error", "Next": "Invalid"}],
                "Next": "Route",
            },
            "Route": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.status", "StringEquals": "succeeded", "Next": "Done"}],
                "Default": "Elsewhere",
            },
            "Done": {"Type": "Pass", "Parameters": {"total.$": "$.output.total"}, "End": True},
            "Elsewhere": {"Type": "Pass", "Parameters": {"needs.$": "$.disposition.capability"}, "End": True},
            "Invalid": {"Type": "Pass", "Parameters": {"invalid.$": "$.error.Error"}, "End": True},
        },
    }
    machine = stack.machine(workflow, "plain-arn")
    price = {
        "StartAt": "V",
        "States": {
            "V": {"Type": "Task", "Resource": "order.validate", "Next": "P"},
            "P": {"Type": "Task", "Resource": "order.price", "End": True},
        },
    }
    lines = [{"sku": "A1", "qty": 2, "unit": 40}]
    d = stack.run(machine, {"intent": price, "input": {"lines": lines}}, "plain-1")
    assert (d["status"], json.loads(d["output"])) == ("SUCCEEDED", {"total": 80}), stack.stack_log()[-3000:]
    away_plan = {"StartAt": "X", "States": {"X": {"Type": "Task", "Resource": "elsewhere.step", "End": True}}}
    d = stack.run(machine, {"intent": away_plan}, "plain-2")
    assert (d["status"], json.loads(d["output"])) == ("SUCCEEDED", {"needs": "elsewhere.step"})
    d = stack.run(machine, {"intent": price, "input": {"lines": []}}, "plain-3")
    assert (d["status"], json.loads(d["output"])) == ("SUCCEEDED", {"invalid": "Order.Invalid"})
    # Retried once on its own name, then caught: two failed invocations.
    failed = [e for e in stack.history(d["executionArn"]) if "Failed" in e["type"] and "Execution" not in e["type"]]
    assert len(failed) == 2, [e["type"] for e in failed]


def test_a_token_task_is_completed_by_the_relay_and_failures_reach_the_catch(stack):
    worker = peo.Node("py-worker", domain="edge", trust="any")

    @worker.handler("edge.work")
    def work(data):
        if data.get("fail"):
            raise peo.TaskFailed("Edge.Broken", "failed on purpose")
        return {**data, "worked": True}

    stop_worker, _ = serve_in_thread(stack.nats_url, worker)
    stop_relay, relay_thread, counts = start_relay(stack, heartbeat_every=0.2)
    plan = {"StartAt": "W", "States": {"W": {"Type": "Task", "Resource": "edge.work", "End": True}}}
    catch = [{"ErrorEquals": ["Edge.Broken"], "ResultPath": "$.error", "Next": "Caught"}]
    workflow = away(plan, TimeoutSeconds=60, Catch=catch)
    machine = stack.machine(workflow, "token")
    try:
        ok = d = stack.run(machine, {"n": 1}, "token-ok")
        assert d["status"] == "SUCCEEDED", stack.stack_log()[-3000:]
        out = json.loads(d["output"])
        assert (out["status"], out["output"]) == ("succeeded", {"n": 1, "worked": True})
        obj = peo.JetStream(stack.nats_url).get(out["id"])
        assert list(dict.fromkeys(r.node.domain for r in obj.memory if r.node.id)) == ["aws", "edge"]
        obj.verify()

        # SendTaskFailure with the object's own error name reaches the Catch.
        d = stack.run(machine, {"fail": True}, "token-fail")
        assert d["status"] == "SUCCEEDED"
        # (moto 5.2.5's SendTaskFailure drops the cause, so only the name can be checked here;
        # the cause the relay sends is the object's: peo_runtime's relay_report test.)
        assert json.loads(d["output"])["caught"]["Error"] == "Edge.Broken"
        failed = [
            e["taskFailedEventDetails"] for e in stack.history(d["executionArn"]) if "taskFailedEventDetails" in e
        ]
        assert [f["error"] for f in failed] == ["Edge.Broken"], failed

        # A second relay (another name, so it reads PEO_DONE from the start) completes
        # both again, as a redelivery would: harmless. (Step Functions refuses a second
        # completion, which the relay counts as gone; moto 5.2.5 accepts some and ignores
        # them.) Both executions stay as they ended.
        _stop2, t2, counts2 = start_relay(stack, name="second-relay", idle_timeout=3)
        t2.join(30)
        assert counts2["succeeded"] + counts2["failed"] + counts2["gone"] == 2 and counts2["errors"] == 0, counts2
        for before in (ok, d):
            after = stack.sfn.describe_execution(executionArn=before["executionArn"])
            assert (after["status"], after.get("output")) == (before["status"], before.get("output"))
    finally:
        stop_relay.set()
        relay_thread.join()
        stop_worker.set()
    assert counts["succeeded"] >= 1 and counts["failed"] >= 1, counts


def test_peo_relay_reports_the_same_way(stack, root):
    """`peo relay` (the AWS SDK for Rust) runs the same loop as the Python relay; with
    `--trust` it reports only what the trusted key's node finished."""
    key = peo.SigningKey.generate()
    worker = peo.Node("py-worker-2", domain="edge", trust="any", key=key)
    worker.add_handler("edge.other", lambda data: {**data, "by": "edge"})
    stop_worker, _ = serve_in_thread(stack.nats_url, worker)
    plan = {"StartAt": "W", "States": {"W": {"Type": "Task", "Resource": "edge.other", "End": True}}}
    workflow = away(plan, TimeoutSeconds=60)
    # A finish by a node outside the trust, carrying a token: never reported.
    peo.aws_lambda.handler(node(), mesh=peo.JetStream(stack.nats_url))({"intent": PASS, "taskToken": "forged"}, None)
    env = dict(stack.env, AWS_REGION="us-east-1")
    trusted = f"{key.public_key().hex()},{peo.SigningKey.from_bytes(LAMBDA_SEED).public_key().hex()}"
    relay = subprocess.Popen(
        [
            str(root / "target" / "release" / "peo"),
            "relay",
            "--nats",
            stack.nats_url,
            "--name",
            "cli-relay",
            "--trust",
            trusted,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        d = stack.run(stack.machine(workflow, "cli-relay"), {"n": 3}, "cli-relay-1")
    finally:
        relay.send_signal(signal.SIGTERM)
        out = relay.communicate(timeout=20)[0]
        stop_worker.set()
    assert d["status"] == "SUCCEEDED", out
    assert json.loads(d["output"])["output"] == {"n": 3, "by": "edge"}
    # (It reads PEO_DONE from the start, so the earlier tests' finishes come again too.)
    counts = json.loads(out.strip().splitlines()[-1].split(": ", 2)[-1])
    assert "SendTaskSuccess" in out and counts["succeeded"] >= 1 and counts["errors"] == 0, out
    # The unsigned finish (and any earlier test's): not reported under this trust.
    assert "no --trust" not in out and counts["untrusted"] >= 1, out


def test_a_relay_with_a_trust_never_reports_a_finish_it_does_not_trust(stack):
    """A participant that knows a token could publish a finish of its own; a relay given
    a trust reports only finishes that verify under it."""
    forger = peo.Node("forger", domain="aws", trust="any", key=peo.SigningKey.generate())
    handle = peo.aws_lambda.handler(forger, mesh=peo.JetStream(stack.nats_url))
    assert handle({"intent": PASS, "input": {"paid": True}, "taskToken": "stolen-token"}, None)["status"] == "succeeded"
    lines = []
    counts = peo.aws_lambda.relay(
        peo.JetStream(stack.nats_url),
        sfn=stack.client("stepfunctions"),
        name="strict-relay",
        idle_timeout=3,
        trusted_keys=[peo.SigningKey.generate().public_key()],
        log=lines.append,
    )
    assert counts["untrusted"] >= 1 and counts["succeeded"] == counts["failed"] == counts["errors"] == 0, counts
    assert any("does not verify under the relay's trust" in line for line in lines), lines
    with pytest.raises(peo.InvalidArgumentError, match="not both"):
        peo.aws_lambda.relay(
            peo.JetStream(stack.nats_url), sfn=stack.client("stepfunctions"), trusted_keys=[], trust="any"
        )


def test_heartbeats_keep_a_task_alive_while_the_object_moves_and_it_times_out_without(stack):
    # Two nodes take turns, so every step is a hop: a new version on the mesh, which is
    # what the relay beats for (one long visit commits nothing until it ends).
    stops = []
    for name in ("odd", "even"):
        slow = peo.Node(f"py-{name}", domain="edge", trust="any")
        slow.add_handler(f"edge.{name}", lambda data: (time.sleep(0.6), {"n": data.get("n", 0) + 1})[1])
        stops.append(serve_in_thread(stack.nats_url, slow)[0])
    names = ["odd", "even"]
    steps = {f"S{i}": {"Type": "Task", "Resource": f"edge.{names[i % 2]}", "Next": f"S{i + 1}"} for i in range(6)}
    steps["S6"] = {"Type": "Task", "Resource": "edge.odd", "End": True}
    plan = {"StartAt": "S0", "States": steps}
    workflow = away(plan, {"n": 0}, HeartbeatSeconds=2)
    machine = stack.machine(workflow, "heartbeat")
    try:
        # Seven steps of 0.6 s: about 4 s, twice the heartbeat, so only the beats keep it.
        stop_relay, relay_thread, counts = start_relay(stack, heartbeat_every=0.5)
        d = stack.run(machine, {}, "beating")
        stop_relay.set()
        relay_thread.join()
        assert d["status"] == "SUCCEEDED", stack.stack_log()[-3000:]
        assert json.loads(d["output"])["output"] == {"n": 7}
        assert counts["heartbeats"] >= 3, counts

        # No relay: nobody beats, and the task times out.
        t0 = time.monotonic()
        d = stack.run(machine, {}, "silent")
        # The task sets no TimeoutSeconds: only the 2 s heartbeat can end it, and it does
        # so before the object would finish (AWS names it States.HeartbeatTimeout; moto
        # 5.2.5 reports it as States.Timeout).
        assert (d["status"], d.get("error")) in [("FAILED", "States.HeartbeatTimeout"), ("FAILED", "States.Timeout")]
        assert time.monotonic() - t0 < 4.0
    finally:
        for stop in stops:
            stop.set()
