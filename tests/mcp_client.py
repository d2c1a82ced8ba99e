"""Drives Annal with the official Python MCP SDK, an independent client.

Usage: mcp_client.py stdio <annal binary>
       mcp_client.py http <url> <bearer token>
For stdio the environment (ANNAL_HOME, ANNAL_MODEL_DIR) is passed to the sidecar. Exits
non-zero with a message on the first failed check.
"""

import asyncio
import json
import os
import sys
import tempfile
import time

from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

TOOLS = {
    "store_memory", "store_batch", "search_memories", "expand_memories", "update_memory",
    "retag_memory", "delete_memory", "list_topics", "prune_stale", "init_project",
    "index_files", "index_status",
}


def check(condition, message):
    if not condition:
        raise SystemExit(f"FAILED: {message}")


def text(result):
    return "\n".join(c.text for c in result.content if getattr(c, "text", None) is not None)


async def call(session, tool, **arguments):
    result = await session.call_tool(tool, arguments)
    check(not result.is_error, f"{tool} {arguments}: {text(result)}")
    return text(result)


async def flow(session):
    init = await session.initialize()
    check(init.server_info.name == "annal", f"server name {init.server_info.name}")
    instructions = init.instructions or ""
    check("supersedes" in instructions and "init_project" in instructions, "instructions")

    tools = (await session.list_tools()).tools
    check({t.name for t in tools} == TOOLS, f"tool names {sorted(t.name for t in tools)}")
    search = next(t for t in tools if t.name == "search_memories")
    properties = search.input_schema["properties"]
    check({"project", "query", "tags", "limit", "mode", "output", "projects"} <= set(properties),
          f"search params {sorted(properties)}")
    check(all(properties[p].get("description") for p in ("project", "query", "limit")), "descriptions")

    docs = tempfile.mkdtemp()
    with open(os.path.join(docs, "deploy.md"), "w") as f:
        f.write("# Deploy\nWe ship with a blue-green switch at noon.\n")
    await call(session, "init_project", project_name="pyapp", watch_paths=[docs])
    deadline = time.monotonic() + 60
    while True:
        status = await call(session, "index_status", project="pyapp")
        if "idle" in status and "Last reconcile" in status:
            break
        check(time.monotonic() < deadline, f"indexing never finished: {status}")
        await asyncio.sleep(0.1)

    stored = await call(session, "store_memory", project="pyapp",
                        content="Decision: deploys use blue-green switches.", tags=["decision", "deploy"])
    memory_id = stored.split()[2]
    batch = await call(session, "store_batch", project="pyapp", memories=[
        {"content": "Rollbacks take two minutes.", "tags": "ops"},
        {"content": "The canary runs for ten minutes.", "tags": ["ops"]},
    ])
    check("Stored 2 of 2" in batch, batch)

    for mode in ("summary", "probe", "full"):
        found = await call(session, "search_memories", project="pyapp", query="how do we deploy", mode=mode)
        check(found.startswith("[pyapp]") and memory_id in found, f"{mode}: {found}")
    as_json = json.loads(await call(session, "search_memories", project="pyapp", query="deploy", output="json"))
    check(as_json["meta"]["project"] == "pyapp" and as_json["meta"].get("grouped"), as_json["meta"])

    expanded = await call(session, "expand_memories", project="pyapp", memory_ids=[memory_id])
    check("blue-green switches" in expanded, expanded)
    await call(session, "update_memory", project="pyapp", memory_id=memory_id,
               content="Decision: deploys use blue-green switches at noon.")
    retagged = await call(session, "retag_memory", project="pyapp", memory_id=memory_id, add_tags="release")
    check("release" in retagged, retagged)
    topics = await call(session, "list_topics", project="pyapp")
    check("ops (2)" in topics, topics)
    pruned = await call(session, "prune_stale", project="pyapp")
    check(pruned.startswith("Dry run"), pruned)
    await call(session, "delete_memory", project="pyapp", memory_id=memory_id)
    gone = await session.call_tool("delete_memory", {"project": "pyapp", "memory_id": memory_id})
    check(gone.is_error and "not found" in text(gone), f"second delete: {text(gone)}")
    bad = await session.call_tool("search_memories", {"project": "pyapp", "query": "x", "limit": 0})
    check(bad.is_error and "limit" in text(bad), f"limit 0: {text(bad)}")


async def main():
    transport = sys.argv[1]
    if transport == "stdio":
        params = StdioServerParameters(command=sys.argv[2], env=dict(os.environ))
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                await flow(session)
    elif transport == "http":
        url, token = sys.argv[2], sys.argv[3]
        client = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
        async with client, streamable_http_client(url, http_client=client) as (read, write):
            async with ClientSession(read, write) as session:
                await flow(session)
    else:
        check(False, f"unknown transport {transport}")
    print("ok")


asyncio.run(main())
