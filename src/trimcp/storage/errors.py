"""The exceptions a `trimcp.storage` store or wrapper raises.

```
StorageError                   a store could not do what was asked
├── StorageUnavailableError    the backend is unreachable (Redis down, disk I/O failure)
├── DecryptionError            a value does not decrypt: wrong key, or tampered with
├── EntryTooLargeError         a value is over a size limit (`LimitSizeWrapper`)
├── EntryTooSmallError         a value is under a size limit (`LimitSizeWrapper`)
└── SerializationError         a value is not JSON-able
```

A backend maps its own failures (`sqlite3.Error`, coredis' connection errors) to these once,
at its boundary, keeping the original as `__cause__`. A bad argument (a TTL that is not a
positive number, `put_many` with more keys than values) is a `ValueError` or `TypeError`, as
in py-key-value.
"""

from __future__ import annotations

__all__ = [
    "DecryptionError",
    "EntryTooLargeError",
    "EntryTooSmallError",
    "SerializationError",
    "StorageError",
    "StorageUnavailableError",
]


class StorageError(Exception):
    """A store could not do what was asked."""


class StorageUnavailableError(StorageError):
    """The backend is unreachable (Redis down, disk I/O failure); the call may work later."""


class DecryptionError(StorageError):
    """A stored value does not decrypt: the key is wrong or the value was tampered with."""


class EntryTooLargeError(StorageError):
    """A value is larger than a store or wrapper accepts."""


class EntryTooSmallError(StorageError):
    """A value is smaller than a wrapper accepts (`LimitSizeWrapper(min_size=...)`)."""


class SerializationError(StorageError):
    """A value cannot be stored as JSON (an object that is not JSON-able, non-string keys)."""
