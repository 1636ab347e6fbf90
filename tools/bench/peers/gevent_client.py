#!/usr/bin/python3
"""gevent with requests, grequests' method, as a peer of tools/bench/compare
(see peerlib.py): the standard library monkey-patched, a gevent Pool of
`concurrency` greenlets, one shared requests Session whose connection pool
keeps `concurrency` connections."""
import peerlib


def setup():
    from gevent import monkey
    monkey.patch_all()
    import gevent.pool
    import requests

    def run(urls, size):
        counter = peerlib.Counter()
        session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=size)
        session.mount("http://", adapter)

        def get(url):
            try:
                counter.add(session.get(url).status_code)
            except Exception as e:
                counter.add(error=e)

        pool = gevent.pool.Pool(size)
        for u in urls:
            pool.spawn(get, u)
        pool.join()
        return counter.result()

    return peerlib.from_list(run)


peerlib.main(setup)
