"""RedisStore on a real redis-server (tests/conftest.py starts it)."""

from __future__ import annotations

from tests.conftest import RedisServer, RedisServerFactory


def test_fixture_server_answers_and_restarts_on_the_same_port(redis_server: RedisServer) -> None:
    assert redis_server.ping()
    port = redis_server.port
    redis_server.stop()
    assert not redis_server.ping()
    redis_server.start()
    assert redis_server.port == port and redis_server.ping()
    assert redis_server.url == f"redis://127.0.0.1:{port}/0"


def test_fixture_factory_server_with_password(redis_server_factory: RedisServerFactory) -> None:
    server = redis_server_factory(password="s3cret")
    assert server.ping()
    server.flushall()
    assert server.url == f"redis://:s3cret@127.0.0.1:{server.port}/0"
