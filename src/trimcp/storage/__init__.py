"""`trimcp.storage`: the key-value stores behind every piece of server state that may outlive a
request (shared/DESIGN.md §5): response cache, event store, OAuth state, MRTR keys.

One protocol, py-key-value's `AsyncKeyValue`: `get(key, *, collection=None)`, `put(key, value,
*, collection=None, ttl=None)`, `delete`, `ttl` and their many-key variants, JSON-able dict
values, TTLs in seconds, collections as namespaces. A py-key-value store (asyncio) plugs in
wherever trimcp takes a store, and trimcp's stores, which run under asyncio and trio, plug in
where py-key-value's are expected.

Backends: `MemoryStore` (one process), `DiskStore` (SQLite, one host, several processes),
`RedisStore` (many hosts; extra `trimcp[redis]`). Wrappers, each an `AsyncKeyValue` around
another: `PrefixCollectionsWrapper`, `PrefixKeysWrapper`, `TTLClampWrapper`,
`StatisticsWrapper`, `LimitSizeWrapper`, `FernetEncryptionWrapper` (extra
`trimcp[encryption]`). Every name but the protocol and the errors loads on first use, so
`import trimcp.storage` imports neither coredis, cryptography nor sqlite3.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trimcp._lazy import lazy_exports
from trimcp.storage.errors import (
    DecryptionError,
    EntryTooLargeError,
    EntryTooSmallError,
    SerializationError,
    StorageError,
    StorageUnavailableError,
)
from trimcp.storage.protocol import DEFAULT_COLLECTION, AsyncKeyValue

if TYPE_CHECKING:
    from trimcp.storage.disk import DiskStore
    from trimcp.storage.encryption import FernetEncryptionWrapper
    from trimcp.storage.memory import MemoryStore
    from trimcp.storage.redis import RedisStore
    from trimcp.storage.wrappers import (
        LimitSizeWrapper,
        PrefixCollectionsWrapper,
        PrefixKeysWrapper,
        StatisticsWrapper,
        TTLClampWrapper,
    )

__all__ = [
    "DEFAULT_COLLECTION",
    "AsyncKeyValue",
    "DecryptionError",
    "DiskStore",
    "EntryTooLargeError",
    "EntryTooSmallError",
    "FernetEncryptionWrapper",
    "LimitSizeWrapper",
    "MemoryStore",
    "PrefixCollectionsWrapper",
    "PrefixKeysWrapper",
    "RedisStore",
    "SerializationError",
    "StatisticsWrapper",
    "StorageError",
    "StorageUnavailableError",
    "TTLClampWrapper",
]

__getattr__, __dir__ = lazy_exports(
    globals(),
    {
        "trimcp.storage.memory": ("MemoryStore",),
        "trimcp.storage.disk": ("DiskStore",),
        "trimcp.storage.encryption": ("FernetEncryptionWrapper",),
        "trimcp.storage.redis": ("RedisStore",),
        "trimcp.storage.wrappers": (
            "LimitSizeWrapper",
            "PrefixCollectionsWrapper",
            "PrefixKeysWrapper",
            "StatisticsWrapper",
            "TTLClampWrapper",
        ),
    },
)
