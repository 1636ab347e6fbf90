#!/usr/bin/python3
"""A ThreadPoolExecutor with a requests Session per thread (threading.local)
as a peer of tools/bench/compare (see peerlib.py): `concurrency` threads,
each keeping its own keep-alive connection."""
import peerlib


def setup():
    import threading
    from concurrent.futures import ThreadPoolExecutor
    import requests

    local = threading.local()

    def get(url):
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        resp = session.get(url)
        return resp.status_code

    def run(urls, workers):
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return peerlib.collect([pool.submit(get, u) for u in urls])

    return peerlib.from_list(run)


peerlib.main(setup)
