"""Concurrency between an unmodified rpyc 6.0.2 client and the Rust test service at
127.0.0.1:<argv[1]>: a Python callback called 10 times at once from Rust (join_all), each
call calling back into the server while the outer call waits; re-entrant callbacks through
map; rpyc.async_ of 8 overlapping 300 ms calls. Prints OK when every check holds.
"""

import sys
import time

import rpyc

port = int(sys.argv[1])
c = rpyc.connect("127.0.0.1", port)
root = c.root

# Called concurrently from Rust; each call calls back into the server (re-entrant).
seen = []


def times_ten(i):
    seen.append(i)
    return root.test(i) * 10


results = root.fan_out(times_ten, 10)
assert tuple(results) == tuple((i + 1) * 10 for i in range(10)), results
assert sorted(seen) == list(range(10)), seen

# Re-entrant: the callback calls the server while the server's map waits on the callback,
# two levels deep.
assert tuple(root.map(lambda x: root.test(x), (1, 2, 3))) == (2, 3, 4)
assert tuple(root.map(lambda x: root.sum(root.map(lambda y: y * x, (1, 2))), (1, 5))) == (3, 15)

# Eight overlapping 300 ms calls finish together, not one after another.
slow = rpyc.async_(root.slow)
start = time.monotonic()
pending = [slow(300) for _ in range(8)]
assert not any(p.ready for p in pending)
values = [p.value for p in pending]
elapsed = time.monotonic() - start
assert values == ["slept 300 ms"] * 8, values
assert elapsed < 1.5, "8 overlapping 300 ms calls took %.2f s" % elapsed

c.ping()
c.close()
print("OK")
