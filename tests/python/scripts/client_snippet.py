"""Issue 15's snippet, every line checked: what an unmodified rpyc 6.0.2 client must see from
the server at 127.0.0.1:<argv[1]> (rpyc's own ThreadedServer today, the Rust server when the
rpyc wire lands). Prints OK and exits 0 when every check holds; a failed check raises.
"""

import sys
import threading

import rpyc

port = int(sys.argv[1])
c = rpyc.connect("127.0.0.1", port)

assert c.root.test(11) == 12
assert c.root.exposed_test(11) == 12
assert c.root.the_real_answer_though == 43

try:
    c.root.get_question()
    raise AssertionError("get_question is not exposed")
except AttributeError:
    pass

try:
    c.root.fail()
    raise AssertionError("fail raises")
except ValueError as e:
    assert "bad value" in str(e), str(e)

assert tuple(c.root.map(lambda x: x ** 3, (1, 2, 3))) == (1, 8, 27)
assert c.root.sum([1, 2, 3]) == 6

f = c.root.open("notes")
assert f.write("hi") == 2
assert "notes" in str(f)
assert f == f
hash(f)
assert "write" in dir(f) or "exposed_write" in dir(f)

assert [x for x in c.root.numbers(5)] == [0, 1, 2, 3, 4]

slow = rpyc.async_(c.root.slow)  # the method's netref is fetched once, synchronously
a = slow(300)
assert not a.ready
b = slow(300)  # overlaps a on a server that runs requests concurrently
seen = []
a.add_callback(lambda res: seen.append(res.value))
assert a.value == "slept 300 ms"
assert b.value == "slept 300 ms"
assert seen == ["slept 300 ms"], seen

events = []
got = threading.Event()


def on_event(what):
    events.append(what)
    got.set()


bg = rpyc.BgServingThread(c)
c.root.store(on_event)
assert got.wait(10), "the stored callback was called later"
assert events == ["event"], events
bg.stop()

c.ping()
c.close()
print("OK")
