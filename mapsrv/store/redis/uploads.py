"""Upload links' slots in Redis (``mapsrv.store.contract.UploadTable``): a hash per slot,
``mapsrv:upload:<token>``, and its handle's key, ``mapsrv:upload-handle:<caller> <handle>``, naming
the token; both with the slot's time to live. Single-key calls, as the links' are (the two keys
live in different slots of a Cluster); taking a link is one script on the slot's hash, so that of
two processes that get the same link at once, one takes it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from mapsrv.store.redis.keys import as_text

__all__ = ["RedisUploads"]


def _slot_key(token: str) -> str:
    return f"mapsrv:upload:{token}"


def _handle_key(handle_key: str) -> str:
    return f"mapsrv:upload-handle:{handle_key}"


class RedisUploads:
    def __init__(
        self, run: Callable[[Callable[[Any], Awaitable[Any]]], Awaitable[Any]], swap: Callable[[], Any]
    ) -> None:
        self._run = run
        self._swap = swap  # the swap's script, registered with the link's client of the moment

    async def put_upload(self, token: str, record: dict[str, str], handle_key: str, ttl: float) -> None:
        ttl_ms = max(1, int(ttl * 1000))
        key = _slot_key(token)

        async def put(client: Any) -> Any:
            async with client.pipeline(transaction=True) as pipe:  # one key: one slot of a Cluster
                pipe.hset(key, mapping=record)
                pipe.pexpire(key, ttl_ms)
                return await pipe.execute()

        await self._run(put)
        await self._run(lambda c: c.set(_handle_key(handle_key), token, px=ttl_ms))

    async def upload(self, token: str) -> dict[str, str] | None:
        raw = await self._run(lambda c: c.hgetall(_slot_key(token)))
        if not raw:
            return None
        return {as_text(k) or "": as_text(v) or "" for k, v in raw.items()}

    async def upload_token(self, handle_key: str) -> str | None:
        return as_text(await self._run(lambda c: c.get(_handle_key(handle_key))))

    async def swap_upload(self, token: str, state: str, fields: dict[str, str]) -> bool:
        args = [state, *(x for pair in fields.items() for x in pair)]
        swapped = await self._run(lambda c: self._swap()(keys=[_slot_key(token)], args=args, client=c))
        return bool(swapped)
