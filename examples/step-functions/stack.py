"""Everything the Step Functions example needs, on loopback and offline: a
``nats-server -js`` for the mesh, AWS (local_aws.py: moto's Step Functions and S3, Lambda
answered by runtime clients), the ``peo-node`` Lambda function in its real runtime
client (awslambdaric), and helpers to create state machines and run executions.

run.py uses it for the example; python/tests/test_aws_lambda.py for its tests.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional

import boto3

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import local_aws  # noqa: E402

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/peo-example"
BUCKET = "peo-objects"
FUNCTION = "peo-node"


def nats_server() -> str:
    found = shutil.which("nats-server") or "/usr/sbin/nats-server"
    if not os.path.exists(found):
        raise RuntimeError("nats-server is not installed (Debian: apt-get install nats-server)")
    return found


class Stack:
    """Start with ``Stack()``, stop with ``close()`` (or use ``with``)."""

    def __init__(self, lambda_env: Optional[Dict[str, str]] = None, handler: str = "lambda_node.handler") -> None:
        self.procs: List[subprocess.Popen] = []
        self.store = tempfile.mkdtemp(prefix="peo-sfn-nats-")
        port = local_aws.free_port()
        self.nats_url = f"nats://127.0.0.1:{port}"
        self.log = open(os.path.join(self.store, "stack.log"), "wb")
        self.procs.append(
            subprocess.Popen(
                [nats_server(), "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", os.path.join(self.store, "js")],
                stdout=self.log,
                stderr=subprocess.STDOUT,
            )
        )
        local_aws._wait_port(port, self.procs[-1])
        self.aws = local_aws.start([FUNCTION])
        self.env = dict(
            os.environ,
            AWS_ENDPOINT_URL=self.aws.endpoint,
            AWS_DEFAULT_REGION=REGION,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            PEO_NATS_URL=self.nats_url,
            PEO_S3_BUCKET=BUCKET,
        )
        self.sfn = self.client("stepfunctions")
        self.s3 = self.client("s3")
        self.s3.create_bucket(Bucket=BUCKET)
        env = dict(self.env, AWS_LAMBDA_RUNTIME_API=self.aws.runtime_api(FUNCTION), **(lambda_env or {}))
        self.start([sys.executable, "-m", "awslambdaric", handler], env=env)

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.aws.endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def start(self, argv: List[str], env: Optional[Dict[str, str]] = None) -> subprocess.Popen:
        """Starts a process of the example (a node, the relay) in this folder."""
        proc = subprocess.Popen(argv, cwd=HERE, env=env or self.env, stdout=self.log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def machine(self, definition: Any, name: str = "peo-orders") -> str:
        text = definition if isinstance(definition, str) else json.dumps(definition)
        return str(self.sfn.create_state_machine(name=name, definition=text, roleArn=ROLE)["stateMachineArn"])

    def run(self, machine: str, input: Any, name: str, timeout: float = 120.0) -> Dict[str, Any]:
        """Starts an execution and waits for it to end: ``describe_execution``'s answer."""
        arn = self.sfn.start_execution(stateMachineArn=machine, name=name, input=json.dumps(input))["executionArn"]
        return self.wait(arn, timeout)

    def wait(self, execution: str, timeout: float = 120.0) -> Dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            d = self.sfn.describe_execution(executionArn=execution)
            if d["status"] != "RUNNING" or time.monotonic() > deadline:
                return dict(d)
            time.sleep(0.1)

    def history(self, execution: str) -> List[Dict[str, Any]]:
        return list(self.sfn.get_execution_history(executionArn=execution)["events"])

    def stack_log(self) -> str:
        self.log.flush()
        with open(os.path.join(self.store, "stack.log"), "rb") as f:
            return f.read().decode(errors="replace")

    def close(self) -> None:
        for p in reversed(self.procs):
            p.terminate()
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        self.aws.close()
        self.log.close()
        if not os.environ.get("PEO_KEEP"):
            shutil.rmtree(self.store, ignore_errors=True)

    def __enter__(self) -> "Stack":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
