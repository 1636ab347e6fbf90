#!/usr/bin/python3
"""requests-futures as a peer of tools/bench/compare (see peerlib.py): one
FuturesSession on `concurrency` threads sharing one requests Session whose
connection pool keeps `concurrency` connections; every GET submitted at
once, the executor runs `concurrency` at a time."""
import peerlib


def setup():
    import requests
    from requests_futures.sessions import FuturesSession

    def run(urls, workers):
        session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=workers)
        session.mount("http://", adapter)
        with FuturesSession(session=session, max_workers=workers) as fs:
            return peerlib.collect([fs.get(u) for u in urls], lambda r: r.status_code)

    return peerlib.from_list(run)


peerlib.main(setup)
