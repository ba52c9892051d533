//! Integration tests of `rpc-core`: the macro's compile errors and the decoder's robustness.

mod decode;
mod fuzz;
mod macros;
