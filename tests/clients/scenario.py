"""Charter's MCP scenario driven by the official Python SDK client (mcp 2.x).

Usage: python scenario.py auto|legacy|sse
Env: CHARTER_MCP_URL, CHARTER_SSE_URL, CHARTER_PRODUCER_KEY, CHARTER_REVIEWER_KEY,
     CHARTER_TEMPLATE, CHARTER_GATE
"""

import asyncio
import json
import os
import sys
import time
from contextlib import AsyncExitStack

import httpx2
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

MODE = sys.argv[1] if len(sys.argv) > 1 else "auto"
TOOLS = sorted([
    "get_context", "list_workflow_templates", "create_initiative", "get_initiative",
    "register_artifact", "submit_evidence", "get_provenance", "check_gates", "request_review",
    "submit_review", "promote_gate", "list_review_requests", "authorize_action", "report_outcome",
    "await_decision", "delegate_task", "complete_task", "request_scope_change", "query_ledger",
    "verify_receipt", "list_violations",
])


def fail(message: str) -> None:
    print(f"scenario.py ({MODE}): {message}", file=sys.stderr)
    sys.exit(1)


def check(ok: bool, message: str, detail=None) -> None:
    if not ok:
        fail(message if detail is None else f"{message}: {detail!r}")


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        fail(f"{name} is not set")
    return value


async def connect(stack: AsyncExitStack, key: str) -> Client:
    headers = {"Authorization": f"Bearer {key}"}
    if MODE == "sse":
        transport = sse_client(env("CHARTER_SSE_URL"), headers=headers)
    else:
        http = await stack.enter_async_context(httpx2.AsyncClient(headers=headers, timeout=30))
        transport = streamable_http_client(env("CHARTER_MCP_URL"), http_client=http)
    mode = "auto" if MODE == "auto" else "legacy"
    return await stack.enter_async_context(Client(transport, mode=mode, cache=None))


async def call(client: Client, name: str, args: dict):
    return await client.call_tool(name, args)


async def ok(client: Client, name: str, args: dict) -> dict:
    r = await call(client, name, args)
    check(not r.is_error, f"{name} failed", r.structured_content or r.content)
    check(isinstance(r.structured_content, dict), f"{name} has no structuredContent", r)
    return r.structured_content


async def main() -> None:
    async with AsyncExitStack() as stack:
        producer = await connect(stack, env("CHARTER_PRODUCER_KEY"))
        reviewer = await connect(stack, env("CHARTER_REVIEWER_KEY"))
        version = producer.protocol_version
        if MODE == "auto":
            check(version == "2026-07-28", "auto mode did not negotiate 2026-07-28", version)
        else:
            check(version != "2026-07-28", f"{MODE} mode negotiated the newest protocol", version)

        tools = (await producer.list_tools()).tools
        names = sorted(t.name for t in tools)
        check(names == TOOLS, "the 21 tools", names)
        for t in tools:
            check(t.output_schema is not None, f"{t.name} has no outputSchema")

        template, gate = env("CHARTER_TEMPLATE"), env("CHARTER_GATE")
        init = await ok(producer, "create_initiative",
                        {"name": f"py-{MODE}-{time.time_ns()}", "template": template, "risk": 50})
        initiative = init["initiative_id"]
        digest = "sha256:" + "ef" * 32
        artifact = (await ok(producer, "register_artifact",
                             {"kind": "code", "digest": digest, "uri": "git://x",
                              "initiative_id": initiative}))["artifact_id"]
        review = (await ok(producer, "request_review", {"artifact_id": artifact, "gate": gate}))["review_id"]
        selfie = await call(producer, "submit_review", {"review_id": review, "digest": digest, "approve": True})
        check(selfie.is_error and (selfie.structured_content or {}).get("reason") == "self_approval",
              "self-approval refused", selfie)
        await ok(reviewer, "submit_review", {"review_id": review, "digest": digest, "approve": True})
        await ok(producer, "promote_gate", {"initiative_id": initiative})
        receipt = await ok(producer, "authorize_action",
                           {"action": "deploy", "resource_type": "Service", "resource_id": "payments-api",
                            "initiative": initiative, "spend": 1})
        check(receipt["decision"] == "ALLOWED", "deploy allowed", receipt)
        verdict = await ok(producer, "verify_receipt",
                           {k: receipt[k] for k in ("seq", "record_hash", "signature", "key_id")})
        check(verdict["valid"] is True, "receipt verifies", verdict)
        blocked = await call(producer, "authorize_action",
                             {"action": "deploy", "resource_type": "Service", "resource_id": "billing-api"})
        body = blocked.structured_content or {}
        check(blocked.is_error and body.get("decision") == "BLOCKED" and body.get("reason") == "out_of_scope",
              "out-of-scope deploy blocked", blocked)
        print(json.dumps({"ok": True, "client": "python", "mode": MODE, "protocol": version,
                          "tools": len(names)}))


asyncio.run(main())
