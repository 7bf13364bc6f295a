"""Multi-round-trip requests (2026-07-28, MRTR): how `ctx.elicit`/`ctx.sample`/`ctx.list_roots`
work without a live server-to-client request.

Theory of operation. In the modern era a handler that needs input from the client cannot wait
for it: the request must end. So `Context` raises `InputRequired` at the first input it has no
answer for; the dispatch boundary turns that into an `InputRequiredResult` carrying the input
request and a sealed `requestState`. The client answers and retries the same method (new id)
with `inputResponses` and the `requestState`. The handler is then **run again from the start**,
and each input call returns its recorded answer in order, until the handler finishes or asks
for the next input. (Replay rule, documented for users: code before an `await ctx.elicit(...)`
runs again on each retry, so keep side effects after the last input or make them idempotent.)

`requestState` is the only memory: it carries every answer so far, the key of the pending
input, the method and a digest of the request's salient params, and an expiry. It is sealed
with HMAC-SHA256 under the server's MRTR keys (the first key signs, every key verifies, so keys
rotate; replicas share keys via `FastMCP(mrtr_keys=...)` or `trimcp.settings.mrtr_keys`,
`TRIMCP_MRTR_KEYS`/`FASTMCP_MRTR_KEYS`, or through a shared store with `MrtrKeys.from_store`). State that fails verification, has expired, or belongs
to another request is refused with -32602: it is never silently re-prompted. HMAC proves integrity, not single use: a client may replay a state
within its lifetime, which only re-runs the same handler with the same answers.

One request may take at most `max_rounds` input rounds (`MAX_ROUNDS` by default): the state
carries every answer and the handler replays them all on each retry, so a handler that keeps
asking (a loop re-prompting until an answer validates, say) would otherwise let a client grow
both without end. Asking once more is answered -32600 at the dispatch boundary (not inside the
handler, whose `except Exception` could swallow it).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

from trimcp.exceptions import McpError
from trimcp.protocol.errors import INVALID_PARAMS, INVALID_REQUEST
from trimcp.protocol.jsonrpc import DECODE_ERRORS
from trimcp.settings import settings
from trimcp.storage.errors import StorageError
from trimcp.types.results import Result

if TYPE_CHECKING:
    from trimcp.storage.protocol import AsyncKeyValue

__all__ = [
    "MAX_ROUNDS",
    "MRTR_METHODS",
    "InputRequired",
    "InputRequiredResult",
    "MrtrKeys",
    "MrtrRound",
    "begin_round",
    "input_required_result",
]

# Only these methods may answer `input_required` (mrtr.mdx: MUST NOT elsewhere).
MRTR_METHODS = frozenset({"tools/call", "prompts/get", "resources/read"})
STATE_LIFETIME = 600.0  # seconds a requestState stays valid
KEYS_COLLECTION = "trimcp-mrtr"  # where `MrtrKeys.from_store` keeps the keys, by default
KEYS_KEY = "keys"
MAX_ROUNDS = 32  # input rounds one request may take, by default


class InputRequiredResult(Result, kw_only=True):
    inputRequests: dict[str, Any] | None = None
    requestState: str | None = None


class InputRequired(BaseException):
    """Raised by `Context` at an input it has no answer for (modern era). A BaseException so
    that a handler's `except Exception` cannot swallow it."""

    def __init__(self, key: str, request: dict[str, Any]) -> None:
        super().__init__(key)
        self.key = key
        self.request = request


class _State(msgspec.Struct, array_like=True):
    method: str
    digest: str
    answers: list[Any]
    pending: str | None
    expires: float


_encode_state = msgspec.json.Encoder().encode
_decode_state = msgspec.json.Decoder(_State).decode


class MrtrKeys:
    """HMAC keys for `requestState`: the first signs, all verify."""

    def __init__(self, keys: list[bytes] | list[str] | None = None) -> None:
        if not keys:
            keys = settings.mrtr_keys or [secrets.token_bytes(32)]
        self._keys = [k.encode() if isinstance(k, str) else k for k in keys]

    @classmethod
    async def from_store(
        cls, store: AsyncKeyValue, *, collection: str = KEYS_COLLECTION, key: str = KEYS_KEY
    ) -> MrtrKeys:
        """The keys every replica sharing `store` uses: read from it, or, when it holds none
        yet, a new random key written to it.

        After writing, the value is read back and that is what counts, so when two replicas
        start on an empty store at the same moment the later write wins for every replica that
        reads after it. Without an atomic "put if absent" in the store protocol a replica that
        read its own write just before the other's could still keep its own key until it
        restarts: create the keys once before starting replicas together (a deploy step calling
        this), or give them the same keys in `TRIMCP_MRTR_KEYS`.

        The stored value is `{"keys": [<base64url key>, ...]}`: to rotate, put a new key first
        and keep the old ones after it (the first signs, all verify). Raises
        `trimcp.storage.StorageError` for a stored value of another shape, and whatever the
        store raises when it is unavailable.
        """
        stored = await store.get(key, collection=collection)
        if stored is None:
            fresh = _b64(secrets.token_bytes(32))
            await store.put(key, {"keys": [fresh]}, collection=collection)
            stored = await store.get(key, collection=collection)
            if stored is None:  # deleted meanwhile, or a store that keeps nothing
                stored = {"keys": [fresh]}
        return cls(_stored_keys(stored))

    def seal(self, payload: bytes) -> str:
        mac = hmac.new(self._keys[0], payload, hashlib.sha256).digest()
        return _b64(payload) + "." + _b64(mac)

    def open(self, token: str) -> bytes | None:
        try:
            body, _, tag = token.partition(".")
            payload, mac = _unb64(body), _unb64(tag)
        except (ValueError, TypeError):
            return None
        for key in self._keys:
            if hmac.compare_digest(hmac.new(key, payload, hashlib.sha256).digest(), mac):
                return payload
        return None


def _stored_keys(stored: dict[str, Any]) -> list[bytes]:
    encoded = stored.get("keys")
    if not isinstance(encoded, list) or not encoded:
        raise StorageError("stored MRTR keys are not {'keys': [<base64url key>, ...]}")
    keys: list[bytes] = []
    for text in encoded:
        try:
            if not isinstance(text, str):
                raise TypeError(type(text).__name__)
            keys.append(_unb64(text))
        except (ValueError, TypeError) as exc:
            raise StorageError(f"a stored MRTR key is not base64url: {exc}") from exc
        if len(keys[-1]) < 16:
            raise StorageError("a stored MRTR key is shorter than 16 bytes")
    return keys


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    """Strict inverse of `_b64`: Python's decoder skips foreign characters and ignores the
    unused low bits of the last one, so many strings would verify as the same token."""
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(data) != text:
        raise ValueError("not canonical unpadded base64url")
    return data


def _salient_blob(method: str, salient: Any) -> bytes:
    return msgspec.json.encode([method, salient], order="sorted")


def _digest(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()[:32]


def request_digest(method: str, salient: Any) -> str:
    """What ties a state to its request: the method and its params (sans `_meta` and MRTR)."""
    return _digest(_salient_blob(method, salient))


class MrtrRound:
    """The answers a handler replays this round, consumed in order by `Context`.

    The request's digest is hashed only when needed (a retry to verify, an input to ask
    for): most requests need neither. What it is made of cannot change under the handler:
    either its input is encoded up front (`blob`), or, on a first try, it is made when
    needed from the params as the client sent them (`source`: the raw params and the
    function that picks the salient ones out of them), which nothing can change."""

    __slots__ = ("_blob", "_digest", "_source", "answers", "index", "max_rounds", "method")

    def __init__(
        self,
        method: str,
        blob: bytes | None,
        answers: list[Any],
        digest: str | None = None,
        max_rounds: int = MAX_ROUNDS,
        source: tuple[Any, Callable[[Any], Any]] | None = None,
    ) -> None:
        # positional too: one per 2026-07-28 request, and keywords cost ~0.5 µs
        self.method = method
        self._blob = blob
        self._digest = digest
        self._source = source
        self.answers = answers
        self.index = 0
        self.max_rounds = max_rounds

    @property
    def digest(self) -> str:
        if self._digest is None:
            blob = self._blob
            if blob is None:
                assert self._source is not None  # one of the two is always given
                raw, salient_of = self._source
                blob = _salient_blob(self.method, salient_of(raw))
            self._digest = _digest(blob)
        return self._digest

    def next_answer(self, request: dict[str, Any]) -> Any:
        """The recorded answer for the next input, or raise `InputRequired` for it."""
        index = self.index
        if index < len(self.answers):
            self.index += 1
            return self.answers[index]
        raise InputRequired(f"input-{index}", request)


def keys_for(server: Any) -> MrtrKeys:
    """The server's MRTR keys (`FastMCP(mrtr_keys=...)`, the environment, or a random key)."""
    keys = getattr(server, "mrtr_keys", None)
    if not isinstance(keys, MrtrKeys):
        keys = MrtrKeys(keys)
        server.mrtr_keys = keys
    return keys


def fresh_round(method: str, salient: Any, max_rounds: int = MAX_ROUNDS) -> MrtrRound:
    """The round of a first try (no `requestState`): no answers, nothing to verify."""
    return MrtrRound(method, _salient_blob(method, salient), [], None, max_rounds)


def deferred_round(
    method: str, raw: Any, salient_of: Callable[[Any], Any], max_rounds: int = MAX_ROUNDS
) -> MrtrRound:
    """`fresh_round` for a request whose params came as `raw` (`msgspec.Raw`): its salient
    params (`salient_of(raw)`) are read and encoded only if the handler asks for input."""
    return MrtrRound(method, None, [], None, max_rounds, (raw, salient_of))


def _invalid(message: str) -> McpError:
    return McpError(INVALID_PARAMS, f"Invalid requestState: {message}")


def begin_round(
    keys: MrtrKeys,
    method: str,
    salient: Any,
    request_state: str | None,
    input_responses: Any,
    *,
    max_rounds: int = MAX_ROUNDS,
) -> MrtrRound:
    """Verify a retry's state and answers (or start fresh) for one handler run, which may
    ask for input until the request has taken `max_rounds` input rounds."""
    if request_state is None:
        return fresh_round(method, salient, max_rounds)
    blob = _salient_blob(method, salient)
    digest = _digest(blob)
    payload = keys.open(request_state)
    if payload is None:
        raise _invalid("integrity check failed")
    try:
        state = _decode_state(payload)
    except DECODE_ERRORS as exc:  # signed by us: only a key shared with a foreign writer
        raise _invalid("malformed") from exc
    if state.expires < time.time():
        raise _invalid("expired")
    if state.method != method or state.digest != digest:
        raise _invalid("it belongs to a different request")
    if input_responses is not None and not isinstance(input_responses, dict):
        raise McpError(INVALID_PARAMS, "inputResponses must be an object")
    answers = list(state.answers)
    if state.pending is not None and input_responses and state.pending in input_responses:
        answer = input_responses[state.pending]
        if not isinstance(answer, dict):
            raise McpError(INVALID_PARAMS, f"inputResponses[{state.pending!r}] must be an object")
        answers.append(answer)
    # a missing answer replays to the same input, which is asked again
    return MrtrRound(method, blob, answers, digest, max_rounds)


def input_required_result(
    keys: MrtrKeys, round: MrtrRound, pending: InputRequired
) -> InputRequiredResult:
    """The result asking for `pending`, with the state to retry with; raises `McpError`
    (-32600) when the request has taken all the input rounds it may."""
    if len(round.answers) >= round.max_rounds:
        raise McpError(
            INVALID_REQUEST,
            f"Too many input rounds: {round.method} asked for input more than "
            f"{round.max_rounds} times (the server's limit per request)",
        )
    state = _State(
        method=round.method,
        digest=round.digest,
        answers=round.answers,
        pending=pending.key,
        expires=time.time() + STATE_LIFETIME,
    )
    return InputRequiredResult(
        resultType="input_required",
        inputRequests={pending.key: pending.request},
        requestState=keys.seal(_encode_state(state)),
    )


def find_input_required(exc: BaseException) -> InputRequired | None:
    """`InputRequired` itself, or inside exception groups (a handler's task group wraps it)."""
    if isinstance(exc, InputRequired):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = find_input_required(inner)
            if found is not None:
                return found
    return None
