"""The issue-15 test service written in Python with rpyc's own ThreadedServer: the baseline the
Rust service must match (same client script, same answers), and the server Rust's rpyc client
will call.

Run: python service.py  -> prints "PORT <n>" once listening on 127.0.0.1 (a free port), then
serves until killed.
"""

import gc
import sys
import threading
import time
import weakref

import rpyc
from rpyc.utils.server import ThreadedServer


# Every Notes object alive, to check that a peer's dropped netref released it.
ALIVE_NOTES = weakref.WeakSet()


class Notes:
    """A file-like object handed out by reference."""

    def __init__(self, name):
        self.name = name
        self.lines = []
        ALIVE_NOTES.add(self)

    def exposed_write(self, text):
        self.lines.append(text)
        return len(text)

    def exposed_read(self):
        return "".join(self.lines)

    def __str__(self):
        return "<notes %s: %d writes>" % (self.name, len(self.lines))


class TestService(rpyc.Service):
    exposed_the_real_answer_though = 43

    def __init__(self):
        self.stored = None

    def exposed_test(self, num):
        return num + 1

    def get_question(self):  # not exposed
        return "what is the airspeed velocity of an unladen swallow?"

    def exposed_fail(self):
        raise ValueError("bad value")

    def exposed_map(self, fn, items):
        return tuple(fn(x) for x in items)

    def exposed_sum(self, items):
        return sum(items)

    def exposed_open(self, name):
        return Notes(name)

    def exposed_numbers(self, n):
        return tuple(range(n))

    def exposed_slow(self, ms):
        time.sleep(ms / 1000.0)
        return "slept %d ms" % ms

    def exposed_alive_notes(self):
        """How many Notes objects are alive (after a collection)."""
        gc.collect()
        return len(ALIVE_NOTES)

    def exposed_lookup(self, key):
        """A KeyError for any key but "known"."""
        return {"known": 1}[key]

    def exposed_call_from_threads(self, fn, n):
        """Calls fn(0) .. fn(n-1), each from its own thread, all released at once; the
        results in order."""
        barrier = threading.Barrier(n)
        results = [None] * n
        errors = []

        def worker(i):
            try:
                barrier.wait(10)
                results[i] = fn(i)
            except Exception as e:  # reported to the caller below
                errors.append(repr(e))

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        if errors:
            raise RuntimeError("; ".join(errors))
        return tuple(results)

    def exposed_listing(self):
        """A list and a dict: Python sends them by reference."""
        return ["a", "b", ["c"]], {"x": 1, "y": 2}

    def exposed_store(self, callback):
        """Keeps `callback` and calls it from another thread 100 ms later."""
        self.stored = callback

        def later():
            time.sleep(0.1)
            callback("event")

        threading.Thread(target=later, daemon=True).start()


if __name__ == "__main__":
    server = ThreadedServer(TestService, hostname="127.0.0.1", port=0,
                            protocol_config={"allow_public_attrs": False})
    # Listening before the port is announced (start() would listen only after the print, and a
    # client quick to connect would be refused); start() does not listen twice.
    server._listen()
    print("PORT", server.port, flush=True)
    server.start()
