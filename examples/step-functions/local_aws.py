"""AWS on loopback, offline: moto's server for Step Functions and S3, with Lambda's
Invoke API answered by real Lambda runtime clients (awslambdaric, or Node's
aws-lambda-ric) through the Lambda Runtime API.

moto executes state machine definitions (``.waitForTaskToken``, ``SendTask*``,
``HeartbeatSeconds``, ``Retry``/``Catch``) and invokes Lambda functions with boto3 at
``http://localhost:$MOTO_PORT``. This gateway listens on that port: an ``Invoke`` of a
function it serves is queued for the function's runtime client, which polls
``/2018-06-01/runtime/invocation/next`` and posts the response or the error, exactly as
in Lambda; every other request goes to moto's server behind it.

    python local_aws.py --port 5000 --function peo-node
    AWS_LAMBDA_RUNTIME_API=127.0.0.1:<its port> python -m awslambdaric app.handler

Each function's Runtime API has its own port (printed at start). Run
``python local_aws.py --help`` for the options. Test code imports ``start``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List, Optional, Tuple

RUNTIME = "/2018-06-01/runtime/"
INVOKE = "/2015-03-31/functions/"
ARN = "arn:aws:lambda:us-east-1:123456789012:function"
TIMED_OUT = b'{"errorType":"Sandbox.Timedout","errorMessage":"Task timed out"}'


class _Invocation:
    def __init__(self, function: str, payload: bytes, timeout: float) -> None:
        self.id = str(uuid.uuid4())
        self.function = function
        self.payload = payload
        self.deadline = time.time() + timeout
        self.done = threading.Event()
        self.body = b""
        self.error: Optional[str] = None


class Gateway:
    """The state the HTTP handler shares: queued invocations per function, and the ones
    a runtime client is working on."""

    def __init__(self, functions: List[str], moto: Tuple[str, int], timeout: float) -> None:
        self.queues: Dict[str, "queue.Queue[_Invocation]"] = {f: queue.Queue() for f in functions}
        self.running: Dict[str, _Invocation] = {}
        self.moto = moto
        self.timeout = timeout
        self.invocations = 0
        self.lock = threading.Lock()


def _handler(gw: Gateway, runtime_of: Optional[str]) -> type:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args: object) -> None:  # quiet
            pass

        def _body(self) -> bytes:
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n else b""

        def _reply(self, code: int, body: bytes, headers: Optional[Dict[str, str]] = None) -> None:
            self.send_response(code)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _runtime(self, method: str) -> bool:
            head, sep, rest = self.path.partition(RUNTIME)
            function = runtime_of
            if function is None or not sep or head:
                return False
            body = self._body() if method == "POST" else b""
            if method == "GET" and rest == "invocation/next":
                inv = gw.queues[function].get()
                with gw.lock:
                    gw.running[inv.id] = inv
                self._reply(
                    200,
                    inv.payload,
                    {
                        "Lambda-Runtime-Aws-Request-Id": inv.id,
                        "Lambda-Runtime-Deadline-Ms": str(int(inv.deadline * 1000)),
                        "Lambda-Runtime-Invoked-Function-Arn": f"{ARN}:{function}",
                        "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000",
                        "Content-Type": "application/json",
                    },
                )
                return True
            parts = rest.split("/")
            if method == "POST" and len(parts) == 3 and parts[0] == "invocation":
                with gw.lock:
                    inv = gw.running.pop(parts[1], None)
                if inv is None:
                    self._reply(400, b'{"errorType":"InvalidRequestID"}')
                    return True
                inv.body = body
                if parts[2] == "error":
                    inv.error = self.headers.get("Lambda-Runtime-Function-Error-Type") or "Unhandled"
                inv.done.set()
                self._reply(202, b"{}")
                return True
            if method == "POST" and rest == "init/error":
                sys.stderr.write(f"local_aws: {function} failed to start: {body.decode(errors='replace')}\n")
                self._reply(202, b"{}")
                return True
            self._reply(404, b"{}")
            return True

        def _invoke(self) -> bool:
            if not self.path.startswith(INVOKE):
                return False
            name = urllib.parse.unquote(self.path[len(INVOKE) :].split("/")[0])  # a name or an ARN
            function = name.rsplit(":function:", 1)[-1].split(":")[0]
            if function not in gw.queues:
                return False
            inv = _Invocation(function, self._body() or b"{}", gw.timeout)
            with gw.lock:
                gw.invocations += 1
            gw.queues[function].put(inv)
            if not inv.done.wait(gw.timeout):
                self._reply(
                    200,
                    TIMED_OUT,
                    {"X-Amz-Function-Error": "Unhandled"},
                )
                return True
            headers = {"Content-Type": "application/json", "X-Amz-Executed-Version": "$LATEST"}
            if inv.error is not None:
                headers["X-Amz-Function-Error"] = "Unhandled"
            self._reply(200, inv.body, headers)
            return True

        def _proxy(self, method: str) -> None:
            body = self._body()
            conn = http.client.HTTPConnection(*gw.moto, timeout=gw.timeout)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
            conn.request(method, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            hop = ("transfer-encoding", "connection", "content-length")
            self._reply(resp.status, data, {k: v for k, v in resp.getheaders() if k.lower() not in hop})
            conn.close()

        def _any(self, method: str) -> None:
            if runtime_of is not None:
                if not self._runtime(method):
                    self._reply(404, b"{}")
                return
            if method == "POST" and self._invoke():
                return
            self._proxy(method)

        def do_GET(self) -> None:
            self._any("GET")

        def do_POST(self) -> None:
            self._any("POST")

        def do_PUT(self) -> None:
            self._any("PUT")

        def do_DELETE(self) -> None:
            self._any("DELETE")

        def do_HEAD(self) -> None:
            self._any("HEAD")

    return Handler


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, proc: Optional[subprocess.Popen] = None, timeout: float = 30.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the process serving port {port} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


class LocalAws:
    """moto's server and the gateway in front of it. ``endpoint`` is what boto3 clients
    and the AWS SDK for JavaScript take as their endpoint URL."""

    def __init__(self, functions: List[str], port: Optional[int] = None, timeout: float = 60.0) -> None:
        self.port = port or free_port()
        self.moto_port = free_port()
        env = dict(os.environ, MOTO_PORT=str(self.port))
        self.moto = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-p", str(self.moto_port), "-H", "127.0.0.1"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_port(self.moto_port, self.moto)
        # moto runs the definitions only when asked to (its default is a canned history).
        conn = http.client.HTTPConnection("127.0.0.1", self.moto_port, timeout=10)
        conn.request("POST", "/moto-api/config", body=json.dumps({"stepfunctions": {"execute_state_machine": True}}))
        conn.getresponse().read()
        self.gateway = Gateway(functions, ("127.0.0.1", self.moto_port), timeout)
        self.servers = [ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self.gateway, None))]
        self.runtime_ports: Dict[str, int] = {}
        for f in functions:
            self.runtime_ports[f] = free_port()
            self.servers.append(ThreadingHTTPServer(("127.0.0.1", self.runtime_ports[f]), _handler(self.gateway, f)))
        for server in self.servers:
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def runtime_api(self, function: str) -> str:
        """The value of ``AWS_LAMBDA_RUNTIME_API`` for a runtime client of ``function``."""
        return f"127.0.0.1:{self.runtime_ports[function]}"

    def close(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()
        self.moto.terminate()
        try:
            self.moto.wait(10)
        except subprocess.TimeoutExpired:
            self.moto.kill()


def start(functions: List[str], port: Optional[int] = None, timeout: float = 60.0) -> LocalAws:
    return LocalAws(functions, port, timeout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=5000, help="the port boto3 clients and moto's Lambda calls use")
    ap.add_argument("--function", action="append", default=[], help="a function whose Invoke a runtime client answers")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds an invocation may take")
    args = ap.parse_args()
    aws = start(args.function, args.port, args.timeout)
    print(f"local AWS at {aws.endpoint} (moto on {aws.moto_port})", flush=True)
    for f in args.function:
        print(f"  {f}: AWS_LAMBDA_RUNTIME_API={aws.runtime_api(f)}", flush=True)
    try:
        while aws.moto.poll() is None:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        aws.close()


if __name__ == "__main__":
    main()
