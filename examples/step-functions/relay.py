"""The relay: the one participant that holds AWS credentials. It follows the mesh and
reports every object carrying a task token back to Step Functions (heartbeats while it
moves, then SendTaskSuccess or SendTaskFailure). Usage: python relay.py (reads
PEO_NATS_URL and boto3's settings)."""

import os
import signal
import threading

import peo
import peo.aws_lambda

stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
mesh = peo.JetStream(os.environ["PEO_NATS_URL"], name="sfn-relay")
print("relay: reporting to Step Functions", flush=True)
counts = peo.aws_lambda.relay(mesh, stop=stop, log=lambda line: print("relay:", line, flush=True))
print("relay: stopped", counts, flush=True)
