"""`FernetEncryptionWrapper`: values at rest are ciphertext only, and a value read without the
right key never comes back as plaintext (fail closed). On asyncio and trio.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, MultiFernet

from trimcp.storage import (
    DecryptionError,
    DiskStore,
    FernetEncryptionWrapper,
    MemoryStore,
    SerializationError,
)

pytestmark = pytest.mark.anyio

SECRET = {"token": "s3cr3t-access-token", "user": "alice"}


def files_bytes(directory: Path) -> bytes:
    """Every byte of the files in `directory` (the database and its WAL)."""
    return b"".join(p.read_bytes() for p in directory.iterdir() if p.is_file())


async def test_the_wrapped_store_holds_only_ciphertext(tmp_path: Path) -> None:
    async with DiskStore(directory=tmp_path) as disk:
        store = FernetEncryptionWrapper(key_value=disk, fernet=Fernet(Fernet.generate_key()))
        await store.put("k", SECRET, collection="oauth")
        raw = await disk.get("k", collection="oauth")
        assert raw is not None and set(raw) == {"__encrypted_data__", "__encryption_version__"}
        text = json.dumps(raw)
        assert "s3cr3t" not in text and "alice" not in text
        assert await store.get("k", collection="oauth") == SECRET
    # nor anywhere in the file
    data = files_bytes(tmp_path)
    assert b"s3cr3t" not in data and b"alice" not in data


async def test_a_wrong_key_raises_decryption_error() -> None:
    inner = MemoryStore()
    await FernetEncryptionWrapper(key_value=inner, fernet=Fernet(Fernet.generate_key())).put(
        "k", SECRET
    )
    other = FernetEncryptionWrapper(key_value=inner, fernet=Fernet(Fernet.generate_key()))
    with pytest.raises(DecryptionError):
        await other.get("k")
    with pytest.raises(DecryptionError):
        await other.get_many(["k"])
    with pytest.raises(DecryptionError):
        await other.ttl("k")
    with pytest.raises(DecryptionError):
        await other.ttl_many(["k"])


async def test_without_raising_a_value_that_does_not_decrypt_reads_as_missing() -> None:
    inner = MemoryStore()
    await FernetEncryptionWrapper(key_value=inner, fernet=Fernet(Fernet.generate_key())).put(
        "k", SECRET, ttl=60
    )
    lenient = FernetEncryptionWrapper(
        key_value=inner, fernet=Fernet(Fernet.generate_key()), raise_on_decryption_error=False
    )
    assert await lenient.get("k") is None
    assert await lenient.ttl("k") == (None, None)
    assert await lenient.get_many(["k", "missing"]) == [None, None]


@pytest.mark.parametrize(
    "stored",
    [
        SECRET,  # plaintext put in the store behind the wrapper's back
        {"__encrypted_data__": "bm90IGEgdG9rZW4=", "__encryption_version__": 1},
        {"__encrypted_data__": "!!! not base64", "__encryption_version__": 1},
        {"__encrypted_data__": 3, "__encryption_version__": 1},
        {"__encrypted_data__": "", "__encryption_version__": "1"},
        {"__encrypted_data__": "", "__encryption_version__": 99},
    ],
)
async def test_anything_but_our_ciphertext_is_refused(stored: dict[str, object]) -> None:
    inner = MemoryStore()
    await inner.put("k", stored)
    store = FernetEncryptionWrapper(key_value=inner, fernet=Fernet(Fernet.generate_key()))
    with pytest.raises(DecryptionError):
        await store.get("k")


async def test_a_tampered_token_is_refused() -> None:
    inner = MemoryStore()
    store = FernetEncryptionWrapper(key_value=inner, fernet=Fernet(Fernet.generate_key()))
    await store.put("k", SECRET)
    raw = await inner.get("k")
    assert raw is not None
    data = raw["__encrypted_data__"]
    raw["__encrypted_data__"] = data[:20] + ("A" if data[20] != "A" else "B") + data[21:]
    await inner.put("k", raw)
    with pytest.raises(DecryptionError):
        await store.get("k")


async def test_multifernet_rotates_keys() -> None:
    inner = MemoryStore()
    old, new = Fernet(Fernet.generate_key()), Fernet(Fernet.generate_key())
    await FernetEncryptionWrapper(key_value=inner, fernet=old).put("k", SECRET)
    rotated = FernetEncryptionWrapper(key_value=inner, fernet=MultiFernet([new, old]))
    assert await rotated.get("k") == SECRET  # old values still read
    await rotated.put("k2", SECRET)  # new ones are written with the new key
    assert await FernetEncryptionWrapper(key_value=inner, fernet=new).get("k2") == SECRET


async def test_a_key_derived_from_source_material_and_salt_is_stable() -> None:
    inner = MemoryStore()
    first = FernetEncryptionWrapper(key_value=inner, source_material="material", salt="salt")
    await first.put("k", SECRET)
    again = FernetEncryptionWrapper(key_value=inner, source_material="material", salt="salt")
    assert await again.get("k") == SECRET
    other = FernetEncryptionWrapper(key_value=inner, source_material="material", salt="pepper")
    with pytest.raises(DecryptionError):
        await other.get("k")


def test_the_constructor_needs_exactly_one_way_to_the_key() -> None:
    inner = MemoryStore()
    with pytest.raises(ValueError):
        FernetEncryptionWrapper(key_value=inner)
    with pytest.raises(ValueError):
        FernetEncryptionWrapper(key_value=inner, source_material="m")
    with pytest.raises(ValueError):
        FernetEncryptionWrapper(
            key_value=inner, fernet=Fernet(Fernet.generate_key()), source_material="m", salt="s"
        )


async def test_a_value_that_is_not_json_able_is_refused_before_encryption() -> None:
    store = FernetEncryptionWrapper(key_value=MemoryStore(), fernet=Fernet(Fernet.generate_key()))
    with pytest.raises(SerializationError):
        await store.put("k", {"v": object()})
