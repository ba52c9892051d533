"""Arguments and results between an unmodified rpyc 6.0.2 client and the Rust test service at
127.0.0.1:<argv[1]>: keyword arguments, Python containers reaching Rust collections, bytes and
str, big ints, iterators, a Rust object acting as a Python container, dir(). Prints OK when
every check holds; a failed check raises.
"""

import sys

import rpyc

port = int(sys.argv[1])
c = rpyc.connect("127.0.0.1", port)
root = c.root


def raises(exc, fn, *args, **kwargs):
    """Calls fn and returns the exception of type exc it raised; fails if it did not."""
    try:
        got = fn(*args, **kwargs)
    except exc as e:
        return e
    raise AssertionError("%s(%r, %r) returned %r instead of raising %s"
                         % (getattr(fn, "__name__", fn), args, kwargs, got, exc.__name__))


# Keyword arguments, matched to the Rust parameter names; an Option parameter may be left out.
assert root.greet("ann") == "hello ann!"
assert root.greet(name="bob") == "hello bob!"
assert root.greet("cy", punct="?") == "hello cy?"
assert root.greet(punct=".", name="di") == "hello di."
e = raises(TypeError, root.greet, nme="x")
assert "unexpected keyword argument 'nme'" in str(e), str(e)
e = raises(TypeError, root.greet, "x", name="y")
assert "multiple values for argument 'name'" in str(e), str(e)
e = raises(TypeError, root.greet, punct="!")
assert "missing required argument: 'name'" in str(e), str(e)
raises(TypeError, root.greet, "a", "b", "c")
assert root.test(num=41) == 42

# A dict reaching HashMap<String, i64> and BTreeMap<String, i64>; a set and a frozenset
# reaching Vec<i64>; a list too.
assert root.total({"apples": 3, "pears": 4, "plums": 0}) == 7
assert root.total({}) == 0
assert tuple(root.keys({"b": 1, "c": 2, "a": 3})) == ("a", "b", "c")
assert tuple(root.sorted({5, 3, 9, 1})) == (1, 3, 5, 9)
assert tuple(root.sorted(frozenset([2, -1]))) == (-1, 2)
assert tuple(root.sorted([4, 2, 2])) == (2, 2, 4)
raises(TypeError, root.total, {"apples": "three"})

# Nested lists (and a list inside a tuple) reaching Vec<Vec<i64>>; nested tuples back.
sums, columns = root.transpose([[1, 2], [3, 4, 5], []])
assert tuple(sums) == (3, 12, 0), sums
assert tuple(tuple(col) for col in columns) == ((1, 3), (2, 4), (5,)), columns
sums, _ = root.transpose(([10], [20, 1]))
assert tuple(sums) == (10, 21), sums

# bytes stay bytes, str stays str.
data = bytes(range(256))
back = root.echo_bytes(data)
assert type(back) is bytes and back == data, repr(back)[:80]
assert root.echo_bytes(b"") == b""
text = "h\u00e9llo \u2603 \U0001f600"
back = root.echo(text)
assert type(back) is str and back == text, repr(back)

# An int beyond 64 bits is refused by name; one that fits goes through.
e = raises(OverflowError, root.test, 2 ** 70)
assert "does not fit 64 bits" in str(e), str(e)
assert root.test(2 ** 62) == 2 ** 62 + 1

# A RemoteIter iterated by list() and by a for loop.
assert list(root.numbers(5)) == [0, 1, 2, 3, 4]
assert list(root.numbers(0)) == []
assert sum(x for x in root.numbers(100)) == 4950

# A Rust object declaring __len__, __contains__, __getitem__ (and a settable attribute).
bag = root.bag(["pen", "ink", "paper"])
assert len(bag) == 3
assert "ink" in bag
assert "quill" not in bag
assert bag[0] == "pen" and bag[2] == "paper"
e = raises(IndexError, lambda: bag[7])
assert "bag index 7 out of range" in str(e), str(e)
assert bag.title == "untitled"
bag.title = "desk"
assert bag.title == "desk"
assert len(root.bag([])) == 0
del bag

# dir() lists the exposed names (and not the unexposed one).
names = dir(root)
for name in ("test", "greet", "echo", "echo_bytes", "total", "bag", "fan_out", "the_real_answer_though"):
    assert name in names, (name, names)
assert "get_question" not in names, names

c.ping()
c.close()
print("OK")
