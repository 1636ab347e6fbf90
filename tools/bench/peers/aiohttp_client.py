#!/usr/bin/python3
"""Python aiohttp as a peer of tools/bench/compare (see peerlib.py): one
ClientSession whose TCPConnector keeps `concurrency` connections alive,
`concurrency` tasks each sending its next GET when its answer is read."""
import peerlib


def setup():
    import asyncio
    import aiohttp

    async def fetch(session, url, counter):
        try:
            async with session.get(url) as resp:
                await resp.read()
                counter.add(resp.status)
        except Exception as e:  # counted, not fatal
            counter.add(error=e)

    async def load_async(url, requests, concurrency):
        counter = peerlib.Counter()
        left = [requests]
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:
            async def lane():
                while left[0] > 0:
                    left[0] -= 1
                    await fetch(session, url, counter)
            await asyncio.gather(*(lane() for _ in range(concurrency)))
        return counter.result()

    async def urls_async(urls, limit):
        counter = peerlib.Counter()
        connector = aiohttp.TCPConnector(limit=limit)  # 0: no limit
        async with aiohttp.ClientSession(connector=connector) as session:
            await asyncio.gather(*(fetch(session, u, counter) for u in urls))
        return counter.result()

    return (lambda u, n, c: asyncio.run(load_async(u, n, c)),
            lambda us, limit: asyncio.run(urls_async(us, limit)))


peerlib.main(setup)
