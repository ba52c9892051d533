//! The check every tutorial example makes of the answers it prints.

/// `Ok` if `ok`; otherwise an error naming `what` should have held. `main` returns it, so a
/// wrong answer makes the example exit non-zero.
pub fn check(ok: bool, what: &str) -> Result<(), Box<dyn std::error::Error>> {
    if ok {
        Ok(())
    } else {
        Err(what.into())
    }
}
