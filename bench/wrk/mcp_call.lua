-- wrk script for bench/http_bench.py: POST tools/call over keep-alive HTTP and check every answer.
--
--   wrk -t1 -c32 -d10s --latency -s bench/wrk/mcp_call.lua http://127.0.0.1:PORT/mcp -- \
--       MODE TOOL START_ID [SESSION_ID] [PROTOCOL_VERSION]
--
-- MODE: "session"   handshake era: Mcp-Session-Id + MCP-Protocol-Version headers
--       "stateless" handshake era without a session (MCP-Protocol-Version only)
--       "modern"    2026-07-28: _meta protocolVersion/clientCapabilities, Mcp-Method, Mcp-Name
--       "canned"    the bare ceiling app: same request as "stateless", the answer is a fixed body,
--                   so only status 200 + a "result" are checked (no id / sum check)
-- TOOL: "add" or "add_progress" (the latter carries _meta.progressToken, so the answer is SSE)
--
-- Request k of thread t has id = START_ID + t * 100000000 + k and arguments a = id, b = id % 997;
-- the answer must be status 200, carry that id (any id of this run), a "result" and
-- structuredContent.result (or the first text content) == a + b.  Answers are counted as JSON or
-- SSE by their Content-Type.  done() prints one line "WRKJSON {...}" with the figures.

local threads = {}
local thread_index = 0

function setup(thread)
  thread:set("tindex", thread_index)
  thread_index = thread_index + 1
  table.insert(threads, thread)
end

local mode, tool, start_id, session_id, pversion
local counter = 0
local base = 0
-- per-thread counters, read by done() through thread:get()
ok, bad_status, no_result, bad_sum, bad_id, json_n, sse_n, other_ct = 0, 0, 0, 0, 0, 0, 0, 0
first_error = nil

local prefix, suffix

function init(args)
  mode = args[1] or "session"
  tool = args[2] or "add"
  start_id = tonumber(args[3] or "1")
  session_id = args[4]
  if session_id == "" or session_id == "-" then session_id = nil end
  pversion = args[5] or (mode == "modern" and "2026-07-28" or "2025-11-25")
  base = start_id + (tindex or 0) * 100000000

  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Accept"] = "application/json, text/event-stream"
  wrk.headers["MCP-Protocol-Version"] = pversion
  if mode == "session" and session_id then
    wrk.headers["Mcp-Session-Id"] = session_id
  end
  if mode == "modern" then
    wrk.headers["Mcp-Method"] = "tools/call"
    wrk.headers["Mcp-Name"] = tool
  end
  prefix = '{"jsonrpc":"2.0","id":'
  suffix = ',"method":"tools/call","params":{"name":"' .. tool .. '","arguments":{"a":'
end

function request()
  counter = counter + 1
  local id = base + counter
  local meta
  if mode == "modern" then
    meta = '"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",'
      .. '"io.modelcontextprotocol/clientCapabilities":{}'
    if tool == "add_progress" then meta = meta .. ',"progressToken":' .. id end
    meta = meta .. '}'
  elseif tool == "add_progress" then
    meta = '"_meta":{"progressToken":' .. id .. '}'
  end
  local body = prefix .. id .. suffix .. id .. ',"b":' .. (id % 997) .. '}'
  if meta then body = body .. ',' .. meta end
  body = body .. '}}'
  return wrk.format(nil, nil, nil, body)
end

local function fail(kind, status, body)
  if first_error == nil then
    first_error = kind .. " (status " .. tostring(status) .. "): " .. string.sub(body or "", 1, 300)
  end
end

function response(status, headers, body)
  local ct = nil
  for k, v in pairs(headers) do
    if string.lower(k) == "content-type" then ct = string.lower(v) break end
  end
  if ct and string.find(ct, "text/event-stream", 1, true) then
    sse_n = sse_n + 1
  elseif ct and string.find(ct, "application/json", 1, true) then
    json_n = json_n + 1
  else
    other_ct = other_ct + 1
  end
  if status ~= 200 then
    bad_status = bad_status + 1
    fail("status", status, body)
    return
  end
  -- the JSON-RPC response: for SSE, the data line that carries "result"
  local msg = body
  if ct and string.find(ct, "text/event-stream", 1, true) then
    msg = nil
    for line in string.gmatch(body, "data:([^\n]*)") do
      if string.find(line, '"result"', 1, true) then msg = line end
    end
  end
  if msg == nil or not string.find(msg, '"result"', 1, true) then
    no_result = no_result + 1
    fail("no result", status, body)
    return
  end
  if mode == "canned" then
    ok = ok + 1
    return
  end
  local id = tonumber(string.match(msg, '"id"%s*:%s*(%d+)'))
  if id == nil or id <= start_id then
    bad_id = bad_id + 1
    fail("bad id", status, body)
    return
  end
  local got = string.match(msg, '"structuredContent"%s*:%s*{%s*"result"%s*:%s*(%-?%d+)')
    or string.match(msg, '"text"%s*:%s*"(%-?%d+)"')
  if tonumber(got) ~= id + (id % 997) then
    bad_sum = bad_sum + 1
    fail("wrong sum", status, body)
    return
  end
  ok = ok + 1
end

function done(summary, latency, requests)
  local t = {ok = 0, bad_status = 0, no_result = 0, bad_sum = 0, bad_id = 0,
             json = 0, sse = 0, other_ct = 0}
  local first = nil
  for _, thread in ipairs(threads) do
    t.ok = t.ok + thread:get("ok")
    t.bad_status = t.bad_status + thread:get("bad_status")
    t.no_result = t.no_result + thread:get("no_result")
    t.bad_sum = t.bad_sum + thread:get("bad_sum")
    t.bad_id = t.bad_id + thread:get("bad_id")
    t.json = t.json + thread:get("json_n")
    t.sse = t.sse + thread:get("sse_n")
    t.other_ct = t.other_ct + thread:get("other_ct")
    first = first or thread:get("first_error")
  end
  local e = summary.errors
  local function q(s)  -- JSON string
    s = string.gsub(s, '[%c"\\]', function(c)
      return string.format("\\u%04x", string.byte(c))
    end)
    return '"' .. s .. '"'
  end
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"max":%d,"mean":%.1f,"stdev":%.1f,"p50":%d,"p75":%d,"p90":%d,"p99":%d,"p999":%d},' ..
    '"checks":{"ok":%d,"bad_status":%d,"no_result":%d,"bad_sum":%d,"bad_id":%d,' ..
    '"json":%d,"sse":%d,"other_content_type":%d},"first_error":%s}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.max, latency.mean, latency.stdev,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9),
    t.ok, t.bad_status, t.no_result, t.bad_sum, t.bad_id, t.json, t.sse, t.other_ct,
    first and q(first) or "null"))
end
