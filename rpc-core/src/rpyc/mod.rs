//! RPyC 6's wire, for Python's own `rpyc` peers, both ways: Python's `rpyc.connect` calls
//! Rust services (a server built with `rpc_server::Server::rpyc`), and a Rust program calls a
//! Python rpyc server ([`transport::rpyc::connect`](crate::transport::rpyc::connect), in the
//! facade `rpc::rpyc::connect`).
//!
//! The layers here are the wire alone: framing ([`frame`]), the value codec ([`brine`]),
//! messages ([`message`]), values and references ([`boxing`]) and exceptions ([`vinegar`]),
//! checked byte for byte against captured sessions of rpyc 6.0.2. Above them runs the one
//! connection engine of this crate — the same pending calls, counted object tables, concurrent
//! and re-entrant dispatch, timeouts and budgets as on the native protocol, and the same
//! `#[service]` types.
//!
//! # What a Python client sees of a service
//!
//! ```python
//! c = rpyc.connect("localhost", 18861)
//! c.root.test(11)                 # exposed_test (the prefix is optional, as in rpyc)
//! c.root.the_real_answer_though   # an #[attribute]
//! f = c.root.open("notes")        # an object returned by reference is a netref
//! f.write("hi"); str(f); f == f; hash(f); dir(f)
//! for x in c.root.numbers(5): ... # a RemoteIter is a Python iterator
//! ```
//!
//! * `obj.method` is a bound method (`builtins.method`, counted in the object table, released
//!   when Python drops it); calling it takes positional and keyword arguments, matched to the
//!   method's parameter names (a left-out `Option` parameter is `None`).
//! * A type joins Python's implicit protocols by exposing methods named after them:
//!   `#[exposed] fn __len__(&self) -> usize`, `__getitem__`, `__contains__`, `__iter__`,
//!   `__next__` (end with [`python::stop_iteration`](crate::python::stop_iteration)), `__eq__`.
//! * `==` is identity unless the type has `__eq__`; `hash` is identity; `dir` lists the
//!   exposed methods and attributes; `str`/`repr` are the service's display and repr.
//! * Setting an attribute needs a `#[setter]`; deleting one, pickling, `isinstance` against a
//!   Rust class, `rpyc.buffiter` of a Rust object and unknown requests raise a Python
//!   exception — the connection goes on.
//! * Python functions passed as arguments are [`Callback`](crate::Callback)s: call them now,
//!   later, concurrently, re-entrantly; dropping the last handle sends Python its `DEL`. A
//!   Python client reads its socket only while it waits for a reply, so a call made *later*
//!   reaches it only while it runs `rpyc.BgServingThread(c)` (or its next call).
//! * Keepalive pings and shared-secret authentication are this protocol's, not rpyc's: off
//!   on this wire. TLS works (`rpyc.ssl_connect`). A server's idle timeout does apply (10
//!   minutes by default: a Python session silent that long is closed; `idle_timeout(None)`
//!   on the server keeps it).
//! * rpyc's client gives up on a synchronous call after 30 s (`sync_request_timeout`): longer
//!   methods are called with `rpyc.async_`.
//!
//! # Types
//!
//! | Rust | Python |
//! |---|---|
//! | `()`, `None` | `None` |
//! | `bool` | `bool` |
//! | integers of every width (`u64` above `i64::MAX` too) | `int`; one beyond 64 bits is refused with `OverflowError` |
//! | `f32`, `f64` | `float` |
//! | `String`, `&str`, `char` | `str` |
//! | `Vec<u8>`, `serde_bytes`, `Bytes` | `bytes` |
//! | tuples, `Vec<T>`, sequences | `tuple`; a Python `list`, `set` or `frozenset` argument is fetched into them |
//! | maps, structs | `tuple` of `(key, value)` pairs (`dict(result)` rebuilds it); a Python `dict` argument is fetched into them |
//! | an object by reference (a service object, a `Callback`, a bound method) | a netref |
//! | a proxy of a Python object | the Python object itself (`is` holds) |
//!
//! Containers go out as tuples because brine has no list or dict: a proxy per container
//! would cost Python a round trip per item. Python's lists, dicts and sets are not brine
//! either and arrive as proxies; the engine fetches them before the method runs (one
//! `BUFFITER` round trip for a list or set; a dict's values then follow with one
//! `__getitem__` per key, sent at once). A Python server's list or dict *result* stays the
//! netref Python sent (a Rust client may want the proxy); [`transport::rpyc::fetch`](crate::transport::rpyc::fetch)
//! reads it into a Rust value the same way. `complex`, `slice`, `Ellipsis` have no counterpart
//! and are refused with `TypeError`.
//!
//! # Errors
//!
//! | Rust side | Python side |
//! |---|---|
//! | a member that is not exposed | `AttributeError` |
//! | wrong arguments | `TypeError` |
//! | a panic (the server goes on serving) | `RuntimeError` |
//! | an error type named like a Python exception (`struct ValueError`, `KeyError`...) | that exception |
//! | `ParseIntError`, `ParseFloatError`, `AddrParseError`, `Utf8Error`... | `ValueError` |
//! | `std::io::Error` | `OSError` |
//! | any other `my_crate::errors::Bad` | `my_crate.errors.Bad` (rpyc's generic remote exception) |
//!
//! The Rust message is the exception's argument; the Rust type and its cause chain are its
//! remote traceback. A Python exception reaching Rust is an [`Error::Remote`](crate::Error)
//! whose type name is `module.Class` (`builtins.KeyError`) and whose causes hold Python's
//! traceback; passed back to Python it is raised as the same exception.
//!
//! # Limits
//!
//! A frame is bounded by the connection's `max_frame_size` before it is read, and its
//! decompressed payload by the decode budget (zlib bombs stop there); brine decoding checks
//! counts against the bytes present before allocating and bounds nesting. rpyc 5.x clients
//! (another message layout) and clients with `RPYC_BIND_THREADS` get a clear
//! `ConnectionRefusedError` instead of garbage. This side never compresses what it sends.
//!
//! A server of this protocol that is reached by an rpyc client answers it with a Python
//! exception that says why ([`refusal`]), instead of bytes rpyc cannot read.

pub mod boxing;
pub mod brine;
pub mod frame;
pub mod message;
pub mod vinegar;

pub use boxing::{Boxed, IdPack};
pub use brine::Brine;
pub use frame::Generation;
pub use message::{Kind, Message};
pub use vinegar::{RemoteException, Vinegar};

/// The frames that answer an rpyc client's request number `seq` with
/// `builtins.ConnectionRefusedError(message)` (its remote traceback says `detail`), in the
/// client's `generation` of the protocol.
///
/// ```
/// use rpc_core::rpyc::{refusal, Generation};
///
/// let frames = refusal(0, Generation::V6, "not an rpyc server", "a Rust server");
/// assert_eq!(&frames[4..6], &[0, 3]); // uncompressed, MSG_EXCEPTION
/// ```
pub fn refusal(seq: i64, generation: Generation, message: &str, detail: &str) -> Vec<u8> {
    let exception = RemoteException::builtin("ConnectionRefusedError", message, detail);
    let reply = Message {
        kind: Kind::Exception,
        seq,
        body: Vinegar::Exception(exception).to_brine(),
    };
    let mut out = Vec::new();
    frame::encode_frame(&reply.encode(generation), true, &mut out);
    out
}
