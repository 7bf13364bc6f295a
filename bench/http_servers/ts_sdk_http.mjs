// Bench server: the official TypeScript SDK (@modelcontextprotocol/sdk, pinned by bench/setup.sh)
// over stateful streamable HTTP with JSON responses, on Node 22.
//
//   node ts_sdk_http.mjs --port N --sdk-dir bench/.cache/ts-sdk [--host H] [--fix-json-leak]
//
// The SDK's documented stateful shape (its jsonResponseStreamableHttp example, with the
// SDK's own createMcpExpressApp: express + express.json() + localhost Host validation): one
// McpServer and one StreamableHTTPServerTransport({sessionIdGenerator, enableJsonResponse:
// true}) per session, kept in a map by Mcp-Session-Id; a POST without a session must be an
// initialize. Tool: add(a, b) -> int with an output schema, answered as the Python servers do
// (text content "a+b" and structuredContent {"result": a+b}). No request logging.
//
// --fix-json-leak: the same server with the JSON-mode leak of the SDK's v1.x line fixed
// (modelcontextprotocol/typescript-sdk#2559, open; the v1.x fix is PR #2747, main has it since
// #2286): with enableJsonResponse, send() resolves the pending HTTP response once every request
// of a POST has its answer but never runs that stream's cleanup(), so each POST leaves one
// entry (a fresh UUID -> {resolveJson, cleanup}, holding the settled promise and its Response)
// in the transport's _streamMapping until the session closes: one per tools/call for the life
// of a session. The fix here wraps the transport's send() and runs that cleanup() once the
// response is out, which is what the upstream fix does; node_modules is left untouched.
//
// The SDK is loaded from --sdk-dir (npm --prefix dir) with createRequire, i.e. its CommonJS
// build through the package's "exports" map (this file lives outside that node_modules tree).
// On SIGTERM/SIGINT it prints how many stream mappings the live sessions hold, then exits.

import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { parseArgs } from "node:util";

const { values: opts } = parseArgs({
  options: {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string" },
    "sdk-dir": { type: "string" },
    "fix-json-leak": { type: "boolean", default: false },
  },
});
if (!opts.port || !opts["sdk-dir"]) {
  console.error("usage: node ts_sdk_http.mjs --port N --sdk-dir DIR [--host H] [--fix-json-leak]");
  process.exit(2);
}

const require = createRequire(path.join(path.resolve(opts["sdk-dir"]), "package.json"));
const { McpServer } = require("@modelcontextprotocol/sdk/server/mcp.js");
const { StreamableHTTPServerTransport } = require("@modelcontextprotocol/sdk/server/streamableHttp.js");
const { createMcpExpressApp } = require("@modelcontextprotocol/sdk/server/express.js");
const { isInitializeRequest } = require("@modelcontextprotocol/sdk/types.js");
const { z } = require("zod");
// (its "exports" map sends package.json to the build's own; read the package's from its folder)
const sdkPackage = path.join(path.dirname(require.resolve("@modelcontextprotocol/sdk/server/mcp.js")), "../../..");
const sdkVersion = JSON.parse(readFileSync(path.join(sdkPackage, "package.json"), "utf8")).version;

function makeServer() {
  const server = new McpServer({ name: "bench", version: "1.0.0" });
  server.registerTool(
    "add",
    {
      description: "Add two integers.",
      inputSchema: { a: z.number().int(), b: z.number().int() },
      outputSchema: { result: z.number().int() },
    },
    async ({ a, b }) => {
      const result = a + b;
      return { content: [{ type: "text", text: String(result) }], structuredContent: { result } };
    },
  );
  return server;
}

// The JSON-mode leak fix (see the header). The Node transport delegates to a
// WebStandardStreamableHTTPServerTransport; its send() is wrapped per instance.
function releaseJsonStreams(transport) {
  const inner = transport._webStandardTransport;
  if (!inner || !(inner._streamMapping instanceof Map) || !(inner._requestToStreamMapping instanceof Map)) {
    throw new Error(`--fix-json-leak: SDK ${sdkVersion} does not have the v1.x transport internals it patches`);
  }
  const send = inner.send;
  inner.send = async function (message, options) {
    const isResponse = message && message.id !== undefined && ("result" in message || "error" in message);
    const streamId = isResponse ? inner._requestToStreamMapping.get(message.id) : undefined;
    try {
      return await send.call(inner, message, options);
    } finally {
      // send() drops the request -> stream correlation once the whole POST is answered
      if (streamId !== undefined && !inner._requestToStreamMapping.has(message.id)) {
        const stream = inner._streamMapping.get(streamId);
        if (stream?.resolveJson) stream.cleanup(); // deletes the entry, as upstream's fix does
      }
    }
  };
}

const transports = new Map(); // Mcp-Session-Id -> transport
const app = createMcpExpressApp({ host: opts.host });

function jsonRpcError(res, status, code, message) {
  res.status(status).json({ jsonrpc: "2.0", error: { code, message }, id: null });
}

app.post("/mcp", async (req, res) => {
  try {
    const sessionId = req.headers["mcp-session-id"];
    let transport = sessionId !== undefined ? transports.get(sessionId) : undefined;
    if (transport === undefined) {
      if (sessionId !== undefined) return jsonRpcError(res, 404, -32001, "Session not found");
      if (!isInitializeRequest(req.body)) {
        return jsonRpcError(res, 400, -32000, "Bad Request: No valid session ID provided");
      }
      const t = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        enableJsonResponse: true,
        onsessioninitialized: (id) => {
          transports.set(id, t);
        },
      });
      t.onclose = () => {
        if (t.sessionId !== undefined) transports.delete(t.sessionId);
      };
      if (opts["fix-json-leak"]) releaseJsonStreams(t);
      await makeServer().connect(t);
      transport = t;
    }
    await transport.handleRequest(req, res, req.body);
  } catch (err) {
    console.error("error handling MCP request:", err);
    if (!res.headersSent) jsonRpcError(res, 500, -32603, "Internal server error");
  }
});

async function sessionRequest(req, res) {
  const transport = transports.get(req.headers["mcp-session-id"]);
  if (transport === undefined) return jsonRpcError(res, 400, -32000, "Invalid or missing session ID");
  await transport.handleRequest(req, res);
}
app.get("/mcp", sessionRequest);
app.delete("/mcp", sessionRequest);

const server = app.listen(Number(opts.port), opts.host, (err) => {
  if (err) {
    console.error("listen failed:", err);
    process.exit(1);
  }
  console.log(
    `bench-serving: TypeScript SDK ${sdkVersion} on Node ${process.version}, express, stateful, ` +
      `enableJsonResponse${opts["fix-json-leak"] ? ", JSON-mode leak fixed" : ""}; ` +
      `http://${opts.host}:${opts.port}/mcp`,
  );
});

function stop() {
  let mappings = 0;
  for (const t of transports.values()) mappings += t._webStandardTransport?._streamMapping?.size ?? 0;
  console.log(`bench-stats: ${transports.size} sessions hold ${mappings} stream mappings`);
  server.close();
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
