"""What the compliance layers cost per request, in-process, without network noise.

The same ASGI stack as the server (``create_app``'s layers) around a minimal ASGI
app that answers 200, against that app alone, over the requests the throughput
benchmark sends. Medians of several rounds; the difference is the layers' own cost
per request, which the end-to-end ratio in ``requests_throughput`` hides in noise.

    python -m benchmarks.stack_overhead [--rounds 7] [--requests 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from typing import Any

from benchmarks.requests_throughput import TAGS
from benchmarks.runner import console
from mlflow_compliance.server.authorization.layer import DECISION_KEY, Decision
from mlflow_compliance.server.authorization.table import find
from mlflow_compliance.server.seed_search import SeedSearch
from mlflow_compliance.server.validation import ComplianceValidation


async def answer_ok(scope: Any, receive: Any, send: Any) -> None:
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def request(path: str, body: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """A request as the layers inside authorization see it: with its decision."""
    found = find("POST", path)
    assert found is not None, path
    scope = {"type": "http", "method": "POST", "path": path, "headers": [],
             "query_string": b"", DECISION_KEY: Decision(*found, {}, None)}
    return scope, json.dumps(body).encode()


CASES = {
    "runs/log-batch (validated)": request("/api/2.0/mlflow/runs/log-batch", {
        "run_id": "0" * 32, "tags": TAGS,
        "metrics": [{"key": f"m{k}", "value": k * 0.5, "timestamp": 1, "step": 0}
                    for k in range(10)],
    }),
    "runs/search (passed through)": request("/api/2.0/mlflow/runs/search", {
        "experiment_ids": ["1"], "filter": "tags.compliance = 'GDPR'", "max_results": 20,
    }),
}


async def drive(app: Any, scope: dict[str, Any], body: bytes, n: int) -> float:
    async def send(message: Any) -> None:
        return None

    start = time.perf_counter()
    for _ in range(n):
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await app(dict(scope), receive, send)  # a fresh scope: no body parsed before
    return (time.perf_counter() - start) / n * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=20000)
    args = parser.parse_args(argv)
    stack = ComplianceValidation(SeedSearch(answer_ok))
    for name, (scope, body) in CASES.items():
        bare, layered = [], []
        for i in range(args.rounds):
            pair = [(answer_ok, bare), (stack, layered)]
            for app, samples in pair if i % 2 == 0 else reversed(pair):
                samples.append(asyncio.run(drive(app, scope, body, args.requests)))
        added = statistics.median(layered) - statistics.median(bare)
        console.print(f"{name}: layers add {added:.1f} µs per request "
                      f"(median of {args.rounds} rounds x {args.requests} requests)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
