//! RPyC 6's wire, for Python's own `rpyc` peers: framing ([`frame`]), the value codec
//! ([`brine`]), messages ([`message`]), values and references ([`boxing`]) and exceptions
//! ([`vinegar`]).
//!
//! The founders' notes (`shared/rpyc/PROTOCOL.md` beside the repository) describe the
//! protocol; the tests here check these layers byte for byte against captured sessions of
//! rpyc 6.0.2. A server uses them today to answer a Python client it does not serve with a
//! Python exception that says why ([`refusal`]), instead of bytes rpyc cannot read.

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
