"""`RedisStore` on a real redis-server (tests/conftest.py starts it), on asyncio and trio: the
key layout, TTLs, connection options (URL, password, db, TLS), and Redis stopped and started
again under a live store."""

from __future__ import annotations

import datetime
import ipaddress
import os
import signal
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import coredis
import msgspec
import pytest

from tests.conftest import RedisServer, RedisServerFactory, RedisTls
from trimcp.storage import (
    AsyncKeyValue,
    SerializationError,
    StorageError,
    StorageUnavailableError,
)
from trimcp.storage.redis import RedisStore

pytestmark = pytest.mark.anyio

DOWN_BOUND = 5.0  # seconds a call may take to fail while Redis is down (it takes milliseconds)


@asynccontextmanager
async def raw_client(server: RedisServer, *, db: int = 0) -> AsyncIterator[Any]:
    async with coredis.Redis(
        host=server.host, port=server.port, db=db, password=server.password
    ) as client:
        yield client


# -- layout ---------------------------------------------------------------------------------


async def test_keys_are_collection_and_key_as_py_key_value_lays_them_out(
    redis_server: RedisServer,
) -> None:
    store = RedisStore(url=redis_server.url)
    assert isinstance(store, AsyncKeyValue)
    with anyio.fail_after(5):
        await store.put("k1", {"a": 1}, collection="users")
        await store.put("k2", {"b": 2})
        async with raw_client(redis_server) as raw:
            keys = sorted(await raw.keys("*"))
            document = msgspec.json.decode(await raw.get("users::k1"))
    assert keys == [b"default_collection::k2", b"users::k1"]
    assert document["value"] == {"a": 1}
    assert document["key"] == "k1" and document["collection"] == "users"
    assert document["version"] == 1 and "expires_at" not in document
    datetime.datetime.fromisoformat(document["created_at"])


async def test_prefix_goes_before_the_collection(redis_server: RedisServer) -> None:
    store = RedisStore(
        host=redis_server.host, port=redis_server.port, prefix="app", default_collection="c"
    )
    with anyio.fail_after(5):
        await store.put("k", {"v": True})
        await store.put("k", {"v": False}, collection="other")
        async with raw_client(redis_server) as raw:
            keys = sorted(await raw.keys("*"))
    assert keys == [b"app:c::k", b"app:other::k"]
    assert store.redis_key("k") == "app:c::k"
    assert await RedisStore(url=redis_server.url, prefix="app").get("k", collection="c") == {
        "v": True
    }
    assert await RedisStore(url=redis_server.url).get("k", collection="c") is None


async def test_documents_are_readable_by_py_key_value_and_back(redis_server: RedisServer) -> None:
    """py-key-value's own serialization adapter (what its RedisStore uses) reads trimcp's
    documents, and trimcp reads py-key-value's, including `value_format="string"`."""
    adapter_module, managed = _py_key_value_serialization()
    store = RedisStore(url=redis_server.url)
    with anyio.fail_after(5):
        await store.put("mine", {"n": [1, 2]}, collection="c", ttl=60)
        async with raw_client(redis_server) as raw:
            entry = adapter_module.BasicSerializationAdapter().load_json(
                (await raw.get("c::mine")).decode()
            )
            assert entry.value == {"n": [1, 2]}
            assert entry.expires_at is not None and not entry.is_expired
            for value_format in ("dict", "string"):
                adapter = adapter_module.BasicSerializationAdapter(value_format=value_format)
                theirs = adapter.dump_json(
                    managed.ManagedEntry(value={"fmt": value_format}), key="t", collection="c"
                )
                await raw.set(f"c::{value_format}", theirs)
        assert await store.get("dict", collection="c") == {"fmt": "dict"}
        assert await store.get("string", collection="c") == {"fmt": "string"}


def _py_key_value_serialization() -> tuple[Any, Any]:
    """py-key-value's serialization modules: `key_value.aio._utils` in 0.5, `key_value.shared.utils`
    in 0.3 (FastMCP 2.13's pin); its RedisStore writes the same layout in both."""
    import importlib

    for package in ("key_value.aio._utils", "key_value.shared.utils"):
        try:
            return (
                importlib.import_module(f"{package}.serialization"),
                importlib.import_module(f"{package}.managed_entry"),
            )
        except ImportError:
            continue
    pytest.skip("py-key-value-aio is not installed")


async def test_a_key_holding_something_else_is_a_storage_error(redis_server: RedisServer) -> None:
    store = RedisStore(url=redis_server.url)
    with anyio.fail_after(5):
        async with raw_client(redis_server) as raw:
            await raw.set("c::junk", b"not json")
            await raw.lpush("c::list", [b"x"])
        with pytest.raises(StorageError, match="does not hold a stored entry"):
            await store.get("junk", collection="c")
        with pytest.raises(StorageError, match="wrong kind of value"):
            await store.get("list", collection="c")


# -- values and TTLs -------------------------------------------------------------------------


async def test_ttl_is_set_in_milliseconds_and_read_back(redis_server: RedisServer) -> None:
    store = RedisStore(url=redis_server.url)
    with anyio.fail_after(5):
        await store.put("k", {"x": 1}, ttl=2.5)
        await store.put_many(["a", "b"], [{"a": 1}, {"b": 2}], ttl=0.75)
        async with raw_client(redis_server) as raw:
            pttl = await raw.pttl("default_collection::k")
            pttl_many = await raw.pttl("default_collection::b")
        value, left = await store.ttl("k")
        many = await store.ttl_many(["a", "b", "missing"])
    assert 2000 < pttl <= 2500 and 500 < pttl_many <= 750
    assert value == {"x": 1} and left is not None and 2.0 < left <= 2.5
    assert [v for v, _ in many] == [{"a": 1}, {"b": 2}, None]
    assert all(t is not None and 0.5 < t <= 0.75 for _, t in many[:2]) and many[2][1] is None


async def test_entry_without_ttl_never_expires_and_expired_entry_is_gone(
    redis_server: RedisServer,
) -> None:
    store = RedisStore(url=redis_server.url)
    with anyio.fail_after(5):
        await store.put("forever", {"x": 1})
        await store.put("brief", {"x": 2}, ttl=0.05)
        assert await store.ttl("forever") == ({"x": 1}, None)
        # Redis's clock expires it after 50 ms: no event to wait on, so poll
        while await store.get("brief") is not None:  # noqa: ASYNC110
            await anyio.sleep(0.01)
        assert await store.ttl("brief") == (None, None)
        assert await store.delete("brief") is False


async def test_many_key_calls(redis_server: RedisServer) -> None:
    store = RedisStore(url=redis_server.url)
    async with store:
        with anyio.fail_after(5):
            await store.put_many(["a", "b", "c"], [{"n": 1}, {"n": 2}, {"n": 3}], collection="m")
            assert await store.get_many(["c", "x", "a"], collection="m") == [
                {"n": 3},
                None,
                {"n": 1},
            ]
            assert await store.delete_many(["a", "x", "a", "b"], collection="m") == 2
            assert await store.get_many(["a", "b", "c"], collection="m") == [None, None, {"n": 3}]
            assert await store.get_many([], collection="m") == []
            assert await store.delete_many([], collection="m") == 0
            await store.put_many([], [], collection="m")
            with pytest.raises(ValueError, match="pair one to one"):
                await store.put_many(["a"], [], collection="m")


async def test_bad_values_and_ttls_are_refused_before_redis_is_asked(
    redis_server: RedisServer,
) -> None:
    store = RedisStore(url=redis_server.url)
    with anyio.fail_after(5):
        with pytest.raises(SerializationError):
            await store.put("k", {"x": object()})
        with pytest.raises(SerializationError):
            await store.put_many(["a", "b"], [{"ok": 1}, {1: "not a str key"}])  # type: ignore[dict-item]
        for ttl in (0, -1, float("inf")):
            with pytest.raises(ValueError, match="positive"):
                await store.put("k", {"x": 1}, ttl=ttl)
        with pytest.raises(TypeError):
            await store.put("k", {"x": 1}, ttl=True)
        assert await store.get_many(["k", "a"]) == [None, None]


async def test_entered_store_is_shared_by_concurrent_tasks(redis_server: RedisServer) -> None:
    results: dict[int, Any] = {}
    async with RedisStore(url=redis_server.url) as store:

        async def worker(n: int) -> None:
            await store.put(f"k{n}", {"n": n}, ttl=30)
            results[n] = await store.get(f"k{n}")

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                for n in range(50):
                    tg.start_soon(worker, n)
    assert results == {n: {"n": n} for n in range(50)}


async def test_store_that_was_never_entered_serves_any_task(
    redis_server: RedisServer,
) -> None:
    store = RedisStore(url=redis_server.url)
    results: list[Any] = []

    async def worker(n: int) -> None:
        await store.put(f"k{n}", {"n": n})
        results.append(await store.get(f"k{n}"))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            for n in range(10):
                tg.start_soon(worker, n)
    assert sorted(r["n"] for r in results) == list(range(10))


async def test_given_client_is_used_as_it_is(redis_server: RedisServer) -> None:
    async with coredis.Redis(host=redis_server.host, port=redis_server.port) as client:
        store = RedisStore(client=client, prefix="p")
        assert store.location == f"127.0.0.1:{redis_server.port}"
        async with store:
            with anyio.fail_after(5):
                await store.put("k", {"x": 1})
        with anyio.fail_after(5):  # the store did not close the client it was given
            assert await client.get("p:default_collection::k") is not None
            assert await store.get("k") == {"x": 1}
    idle = RedisStore(client=coredis.Redis(host=redis_server.host, port=redis_server.port))
    with anyio.fail_after(5), pytest.raises(StorageError, match="must be entered"):
        await idle.get("k")


# -- connection options ------------------------------------------------------------------------


async def test_db_from_argument_and_from_url(redis_server: RedisServer) -> None:
    base = f"redis://127.0.0.1:{redis_server.port}"
    with anyio.fail_after(5):
        await RedisStore(host=redis_server.host, port=redis_server.port, db=3).put("k", {"db": 3})
        await RedisStore(url=f"{base}/5").put("k", {"db": 5})
        async with raw_client(redis_server, db=3) as raw3, raw_client(redis_server, db=5) as raw5:
            assert await raw3.exists(["default_collection::k"]) == 1
            assert await raw5.exists(["default_collection::k"]) == 1
        assert await RedisStore(url=f"{base}/0").get("k") is None
        assert await RedisStore(url=f"{base}/3").get("k") == {"db": 3}


async def test_password_from_argument_and_url_and_refusals(
    redis_server_factory: RedisServerFactory,
) -> None:
    server = redis_server_factory(password="s3cret")
    plain = f"redis://127.0.0.1:{server.port}/0"
    with anyio.fail_after(10):
        await RedisStore(url=server.url).put("k", {"x": 1})  # redis://:s3cret@...
        assert await RedisStore(url=plain, password="s3cret").get("k") == {"x": 1}
        store = RedisStore(host=server.host, port=server.port, password="s3cret")
        assert await store.get("k") == {"x": 1}
        for refused in (
            RedisStore(url=plain),
            RedisStore(url=plain, password="wrong"),
            RedisStore(host=server.host, port=server.port, password="wrong"),
        ):
            with pytest.raises(StorageUnavailableError, match="authentication refused") as info:
                await refused.get("k")
            assert f"127.0.0.1:{server.port}" in str(info.value)
            assert "s3cret" not in str(info.value) and "wrong" not in str(info.value)


async def test_a_url_with_query_parameters_is_served_by_coredis(redis_server: RedisServer) -> None:
    """The lean client knows no URL parameters: such a URL is coredis' for every call, with the
    same layout and answers."""
    store = RedisStore(url=f"{redis_server.url}?max_connections=5")
    lean = RedisStore(url=redis_server.url)
    with anyio.fail_after(5):
        await store.put("k", {"x": 1}, ttl=30)
        await store.put_many(["a", "b"], [{"a": 1}, {"b": 2}], ttl=30)
        await store.put_many(["c"], [{"c": 3}])
        assert await lean.get_many(["k", "a", "b", "c"]) == [{"x": 1}, {"a": 1}, {"b": 2}, {"c": 3}]
        await lean.put("d", {"d": 4})
        assert await store.get("d") == {"d": 4}
        assert await store.ttl_many(["k", "c", "z"]) == [
            ({"x": 1}, pytest.approx(30, abs=5)),
            ({"c": 3}, None),
            (None, None),
        ]
        assert await store.delete("k") and await store.delete_many(["a", "b", "z"]) == 2
        await store.aclose()
        await lean.aclose()


def test_url_and_tls_arguments() -> None:
    with pytest.raises(ValueError, match="redis://"):
        RedisStore(url="http://localhost:6379")
    with pytest.raises(ValueError, match="positive"):
        RedisStore(timeout=0)
    assert RedisStore(url="rediss://:pw@cache.example:6380/2").location == "cache.example:6380"
    assert RedisStore(url="redis://cache.example").location == "cache.example:6379"
    assert RedisStore(host="h", port=1).location == "h:1"
    assert "pw" not in repr(RedisStore(url="redis://:pw@h:1/0"))


def _make_tls_files(directory: Path) -> RedisTls:
    """A CA and a certificate it signed for 127.0.0.1, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(tz=datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "trimcp test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    tls = RedisTls(directory / "cert.pem", directory / "key.pem", directory / "ca.pem")
    tls.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    tls.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    tls.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return tls


async def test_tls_server_with_a_verified_certificate(
    redis_server_factory: RedisServerFactory, tmp_path: Path
) -> None:
    pytest.importorskip("cryptography")
    tls = _make_tls_files(tmp_path)
    server = redis_server_factory(tls=tls)
    assert server.url.startswith("rediss://")
    trusting = ssl.create_default_context(cafile=str(tls.ca_file))
    with anyio.fail_after(10):
        store = RedisStore(url=server.url, ssl=trusting)
        await store.put("k", {"tls": True})
        same = RedisStore(host=server.host, port=server.port, ssl=trusting)
        assert await same.get("k") == {"tls": True}
        plain_url = RedisStore(url=server.url.replace("rediss://", "redis://"), ssl=trusting)
        assert await plain_url.get("k") == {"tls": True}
        # the system's CAs do not know the test CA: a clear refusal, not a raw SSL error
        with pytest.raises(StorageUnavailableError, match="CERTIFICATE_VERIFY_FAILED"):
            await RedisStore(url=server.url).get("k")
        # a TLS server is not spoken to in plain text
        with pytest.raises(StorageUnavailableError):
            await RedisStore(host=server.host, port=server.port, timeout=1).get("k")


# -- Redis down, Redis back ----------------------------------------------------------------------


async def _every_call_fails_promptly(store: RedisStore) -> None:
    calls = [
        store.get("k"),
        store.put("k", {"x": 2}),
        store.put("k", {"x": 2}, ttl=5),
        store.delete("k"),
        store.ttl("k"),
        store.get_many(["k", "j"]),
        store.put_many(["k", "j"], [{"x": 1}, {"y": 1}]),
        store.put_many(["k", "j"], [{"x": 1}, {"y": 1}], ttl=5),
        store.delete_many(["k", "j"]),
        store.ttl_many(["k", "j"]),
    ]
    for call in calls:
        with anyio.fail_after(DOWN_BOUND), pytest.raises(StorageUnavailableError) as info:
            await call
        assert f"127.0.0.1:{store.location.rsplit(':', 1)[1]}" in str(info.value)
        assert "unavailable" in str(info.value)


@pytest.mark.parametrize("entered", [True, False], ids=["entered", "never-entered"])
async def test_redis_stopped_mid_run_then_started_again(
    redis_server_factory: RedisServerFactory, entered: bool
) -> None:
    server = redis_server_factory()
    store = RedisStore(url=server.url, connect_timeout=1, timeout=2)
    async with store if entered else _nothing():
        with anyio.fail_after(5):
            await store.put("k", {"x": 1})
            assert await store.get("k") == {"x": 1}
        for _ in range(2):  # down and back twice: the same store object each time
            server.stop()
            await _every_call_fails_promptly(store)
            server.start()  # same port, empty (no persistence)
            with anyio.fail_after(5):
                assert await store.get("k") is None
                await store.put("k", {"x": 1}, ttl=30)
                assert await store.get("k") == {"x": 1}
                assert await store.delete_many(["k"]) == 1


@asynccontextmanager
async def _nothing() -> AsyncIterator[None]:
    yield


async def test_stalled_redis_times_out_instead_of_hanging(
    redis_server_factory: RedisServerFactory,
) -> None:
    server = redis_server_factory()
    assert server.process is not None
    async with RedisStore(url=server.url, connect_timeout=0.5, timeout=0.5) as store:
        with anyio.fail_after(5):
            await store.put("k", {"x": 1})
        os.kill(server.process.pid, signal.SIGSTOP)
        try:
            with anyio.fail_after(DOWN_BOUND):
                with pytest.raises(StorageUnavailableError, match="no answer within"):
                    await store.get("k")
        finally:
            os.kill(server.process.pid, signal.SIGCONT)
        with anyio.fail_after(5):
            assert await store.get("k") == {"x": 1}


def test_import_without_coredis_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['coredis'] = None\n"
        "try:\n    import trimcp.storage.redis\n"
        "except ImportError as exc:\n    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert 'pip install "trimcp[redis]"' in out.stdout
