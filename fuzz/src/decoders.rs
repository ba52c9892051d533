//! AFL++ target: each input is read as the choices of one case of `rpc_core::fuzzing` (a
//! valid message, a mutated one, a stream of frames, an amplifying frame, a hello over its
//! bounds, or the raw bytes themselves), and every decoder runs on it with every invariant
//! checked. A broken invariant panics, which AFL++ records as a crash.

use rpc_core::fuzzing::{self, Source};

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let case = fuzzing::case(&mut Source::from_bytes(data));
        if let Err(e) = fuzzing::check(&case) {
            panic!("{}: {e}", case.shape);
        }
    });
}
