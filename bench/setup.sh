#!/usr/bin/env bash
# Create the reference-framework venvs used by bench/stdio_bench.py (run from anywhere).
#   bench/.venvs/sdk      -> the official SDK, mcp==2.3.0  (MCPServer)
#   bench/.venvs/fastmcp  -> FastMCP 4.1.6 via ../shared/tools/install-fastmcp.sh
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

if ! python3 -c "import trimcp" 2>/dev/null && ! "${TRIMCP_PYTHON:-python3}" -c "import trimcp" 2>/dev/null; then
    echo "note: trimcp is not importable by python3 here; run the bench with the repo venv's python (pip install -e $ROOT)" >&2
fi
exit $status
