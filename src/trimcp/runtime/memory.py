"""In-process message streams: a connected pair, one end for each peer."""

from __future__ import annotations

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

__all__ = ["MemoryMessageStream", "memory_stream_pair"]


class MemoryMessageStream:
    """One end of an in-memory pair; a `MessageStream`."""

    def __init__(
        self, send: MemoryObjectSendStream[bytes], receive: MemoryObjectReceiveStream[bytes]
    ) -> None:
        self._send = send
        self._receive = receive

    async def send(self, message: bytes) -> None:
        await self._send.send(message)

    async def receive(self) -> bytes:
        return await self._receive.receive()

    async def aclose(self) -> None:
        """Close our sending side: the other end sees end-of-stream."""
        await self._send.aclose()
        await self._receive.aclose()

    def close(self) -> None:
        self._send.close()
        self._receive.close()


def memory_stream_pair(buffer: int = 256) -> tuple[MemoryMessageStream, MemoryMessageStream]:
    a_send, b_receive = anyio.create_memory_object_stream[bytes](buffer)
    b_send, a_receive = anyio.create_memory_object_stream[bytes](buffer)
    return MemoryMessageStream(a_send, a_receive), MemoryMessageStream(b_send, b_receive)
