"""`FernetEncryptionWrapper`: values encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256,
from `cryptography`; extra `trimcp[encryption]`).

The wrapped store holds only `{"__encrypted_data__": <base64 Fernet token>,
"__encryption_version__": 1}`, py-key-value's format, so a value written by either library's
wrapper reads back through the other's with the same key (and `source_material`/`salt` derive
the same key: PBKDF2-SHA256, 1,200,000 iterations).

It fails closed: a value that does not decrypt (wrong key, tampered token) or that is not in
the encrypted format at all (plaintext someone put in the store) raises `DecryptionError`,
never comes back as it is; with `raise_on_decryption_error=False` it reads as missing.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any, SupportsFloat

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from trimcp.storage.base import decode_value, encode_value
from trimcp.storage.errors import DecryptionError, StorageError
from trimcp.storage.wrappers import Wrapper

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from trimcp.storage.protocol import AsyncKeyValue

__all__ = ["ENCRYPTION_VERSION", "FernetEncryptionWrapper", "derive_fernet_key"]

ENCRYPTION_VERSION = 1
"""The format version written (and the newest read)."""

_DATA = "__encrypted_data__"
_VERSION = "__encryption_version__"
_KDF_ITERATIONS = 1_200_000


def derive_fernet_key(*, source_material: str, salt: str) -> bytes:
    """A Fernet key from a secret and a salt (PBKDF2-SHA256, as py-key-value derives it)."""
    derived = PBKDF2HMAC(
        algorithm=hashes.SHA256(), length=32, salt=salt.encode(), iterations=_KDF_ITERATIONS
    ).derive(source_material.encode())
    return base64.urlsafe_b64encode(derived)


class FernetEncryptionWrapper(Wrapper):
    """Encrypts every value written to `key_value` and decrypts every value read.

    Give either `fernet` (a `Fernet`, or a `MultiFernet` to rotate keys: the first encrypts,
    all decrypt) or both `source_material` and `salt` to derive one.

    Args:
        key_value: the store wrapped; it sees only ciphertext.
        fernet: the key(s).
        source_material: a secret to derive the key from.
        salt: the salt of the derivation.
        raise_on_decryption_error: raise `DecryptionError` for a value that does not decrypt
            (the default); when False it reads as missing (None).
    """

    def __init__(
        self,
        *,
        key_value: AsyncKeyValue,
        fernet: Fernet | MultiFernet | None = None,
        source_material: str | None = None,
        salt: str | None = None,
        raise_on_decryption_error: bool = True,
    ) -> None:
        super().__init__(key_value=key_value)
        if fernet is not None:
            if source_material or salt:
                raise ValueError("give fernet, or source_material and salt, not both")
        else:
            if not source_material or not source_material.strip():
                raise ValueError("give fernet, or source_material and salt")
            if not salt or not salt.strip():
                raise ValueError("source_material needs a salt")
            fernet = Fernet(derive_fernet_key(source_material=source_material, salt=salt))
        self._fernet = fernet
        self.raise_on_decryption_error = raise_on_decryption_error

    def encrypt(self, value: Mapping[str, Any]) -> dict[str, Any]:
        """The stored form of `value` (`SerializationError` if it is not JSON-able)."""
        token = self._fernet.encrypt(encode_value(value))
        return {_DATA: base64.b64encode(token).decode("ascii"), _VERSION: ENCRYPTION_VERSION}

    def decrypt(self, stored: dict[str, Any] | None) -> dict[str, Any] | None:
        """The value of a stored form; None for None. `DecryptionError` (or None, with
        `raise_on_decryption_error=False`) when it does not decrypt."""
        if stored is None:
            return None
        try:
            return self._open(stored)
        except DecryptionError:
            if self.raise_on_decryption_error:
                raise
            return None

    def _open(self, stored: dict[str, Any]) -> dict[str, Any]:
        version, data = stored.get(_VERSION), stored.get(_DATA)
        if not isinstance(data, str) or type(version) is not int:
            raise DecryptionError("the stored value is not encrypted (refused: fail closed)")
        if version > ENCRYPTION_VERSION:
            raise DecryptionError(f"encryption version {version} is newer than this reader")
        try:
            plain = self._fernet.decrypt(base64.b64decode(data, validate=True))
        except (InvalidToken, binascii.Error, ValueError) as exc:
            raise DecryptionError("the value does not decrypt with this key") from exc
        try:
            return decode_value(plain)
        except StorageError as exc:
            raise DecryptionError("the decrypted value is not a JSON object") from exc

    async def get(self, key: str, *, collection: str | None = None) -> dict[str, Any] | None:
        """`get`, decrypted."""
        return self.decrypt(await self.key_value.get(key, collection=collection))

    async def put(
        self,
        key: str,
        value: Mapping[str, Any],
        *,
        collection: str | None = None,
        ttl: SupportsFloat | None = None,
    ) -> None:
        """`put` of the encrypted value."""
        await self.key_value.put(key, self.encrypt(value), collection=collection, ttl=ttl)

    async def ttl(
        self, key: str, *, collection: str | None = None
    ) -> tuple[dict[str, Any] | None, float | None]:
        """`ttl`, the value decrypted."""
        stored, left = await self.key_value.ttl(key, collection=collection)
        value = self.decrypt(stored)
        return (None, None) if value is None else (value, left)

    async def get_many(
        self, keys: Sequence[str], *, collection: str | None = None
    ) -> list[dict[str, Any] | None]:
        """`get_many`, decrypted."""
        stored = await self.key_value.get_many(keys, collection=collection)
        return [self.decrypt(value) for value in stored]

    async def put_many(
        self,
        keys: Sequence[str],
        values: Sequence[Mapping[str, Any]],
        *,
        collection: str | None = None,
        ttl: SupportsFloat | None = None,
    ) -> None:
        """`put_many` of the encrypted values."""
        encrypted = [self.encrypt(value) for value in values]
        await self.key_value.put_many(keys, encrypted, collection=collection, ttl=ttl)

    async def ttl_many(
        self, keys: Sequence[str], *, collection: str | None = None
    ) -> list[tuple[dict[str, Any] | None, float | None]]:
        """`ttl_many`, the values decrypted."""
        pairs = await self.key_value.ttl_many(keys, collection=collection)
        result: list[tuple[dict[str, Any] | None, float | None]] = []
        for stored, left in pairs:
            value = self.decrypt(stored)
            result.append((None, None) if value is None else (value, left))
        return result
