"""LangGraph's langchain-mcp-adapters loads Charter's tools and invokes `get_context` as a
LangChain tool. Env: CHARTER_MCP_URL, CHARTER_PRODUCER_KEY."""

import asyncio
import json
import os
import sys

from langchain_mcp_adapters.client import MultiServerMCPClient


def fail(message: str) -> None:
    print(f"langchain_check.py: {message}", file=sys.stderr)
    sys.exit(1)


async def main() -> None:
    client = MultiServerMCPClient({
        "charter": {
            "url": os.environ["CHARTER_MCP_URL"],
            "transport": "streamable_http",
            "headers": {"Authorization": f"Bearer {os.environ['CHARTER_PRODUCER_KEY']}"},
        }
    })
    tools = await client.get_tools()
    by_name = {t.name: t for t in tools}
    if len(by_name) != 21 or "get_context" not in by_name:
        fail(f"expected Charter's 21 tools, got {sorted(by_name)}")
    result = await by_name["get_context"].ainvoke({})
    text = result if isinstance(result, str) else json.dumps(result, default=str)
    if "agent_id" not in text or "tenant_slug" not in text:
        fail(f"get_context answered {text[:500]!r}")
    print(json.dumps({"ok": True, "client": "langchain-mcp-adapters", "tools": len(by_name)}))


asyncio.run(main())
