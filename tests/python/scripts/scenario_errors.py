"""Errors and refusals between an unmodified rpyc 6.0.2 client and the Rust test service at
127.0.0.1:<argv[1]>: each raises the Python exception it should, and the connection stays
usable after each (checked with a call). Prints OK when every check holds.
"""

import pickle
import sys

import rpyc
from rpyc.core.vinegar import GenericException

port = int(sys.argv[1])
c = rpyc.connect("127.0.0.1", port)
root = c.root
calls = [0]


def still_usable():
    calls[0] += 1
    assert root.test(calls[0]) == calls[0] + 1


def raises(exc, fn, *args, **kwargs):
    try:
        got = fn(*args, **kwargs)
    except exc as e:
        return e
    raise AssertionError("%r returned %r instead of raising %s" % (fn, got, exc.__name__))


# A Rust panic is a RuntimeError; the service goes on serving this connection and new ones.
e = raises(RuntimeError, root.panic, "on purpose")
assert "on purpose" in str(e), str(e)
still_usable()
other = rpyc.connect("127.0.0.1", port)
assert other.root.test(1) == 2
other.close()

# Unknown attribute, unexposed method, wrong argument type.
raises(AttributeError, getattr, root, "no_such_thing")
raises(AttributeError, lambda: root.get_question)
still_usable()
e = raises(TypeError, root.test, "eleven")
still_usable()
raises(TypeError, root.sum, [1, "two"])
still_usable()

# A Rust error named like no Python exception: rpyc's GenericException, carrying the message.
e = raises(GenericException, root.take, "widgets")
assert "the warehouse has no widgets left" in str(e), str(e)
# rpyc names the generic class after the Rust type (module path, type name).
assert any(k.__name__.endswith(".OutOfStock") for k in type(e).__mro__), type(e).__mro__
still_usable()
# One named like a Python exception is that exception.
e = raises(ValueError, root.fail)
assert "bad value" in str(e)
still_usable()

# Polite refusals.
e = raises(AttributeError, setattr, root, "answer", 42)
still_usable()
notes = root.open("n")
raises(AttributeError, setattr, notes, "name", "other")
still_usable()
e = raises(AttributeError, delattr, notes, "name")
assert "cannot be deleted" in str(e), str(e)
still_usable()


def delete_attribute():
    del root.the_real_answer_though


raises(AttributeError, delete_attribute)
still_usable()
e = raises(ValueError, pickle.dumps, notes)
assert "pickling is disabled" in str(e), str(e)
still_usable()
# isinstance() against an instance netref is refused by rpyc locally; the server's own
# INSTANCECHECK handler (which rpyc uses for class netrefs, which this server never sends) is
# reached raw, and refuses too.
raises(TypeError, isinstance, notes, root)
still_usable()
e = raises(TypeError, c.sync_request, 20, root, notes.____id_pack__)
assert "isinstance()" in str(e), str(e)
still_usable()
# A handler number rpyc does not have.
e = raises(NotImplementedError, c.sync_request, 99)
assert "handler 99" in str(e), str(e)
still_usable()
assert notes.write("still here") == 10
del notes

c.ping()
c.close()
print("OK")
