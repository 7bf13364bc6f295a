"""The server core: what serves one MCP request, whatever the transport.

`session.ServerSession` (the era of each request, the handshake-era session state, the
middleware chain, the handlers), `handlers` (method -> handler, the fault policy
`answer_fault`), `listings` (the four listings, in two steps when middleware sees the
components), `connection.ServerConnection` (a session on a `runtime.Peer`: stdio, memory,
legacy SSE), `context.Context` and what it needs (`request`, `elicitation` and
`elicitation_results`, `mrtr`), `subscriptions` (2026-07-28 `subscriptions/listen`), `answers`
(initialize, discover and modern result dressing), `middleware` and `running` (stdio serving,
signals, shutdown).

It imports the protocol, the runtime and the components (tools, resources, prompts), never
the HTTP app, the client or the `FastMCP` facade (`tests/test_import_contract.py`). The
public module paths FastMCP users import from (`trimcp.server.context`,
`trimcp.server.middleware`, `trimcp.server.elicitation`) re-export from here.
"""
