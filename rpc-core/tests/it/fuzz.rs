//! A short run of the fuzz harness (`rpc_core::fuzzing`): a few thousand inputs from a fixed
//! seed through every decoder a peer reaches, and every amplifying shape under every small
//! budget. The long run is `cargo bench --bench fuzz`; memory is counted in `tests/budget.rs`.

use rpc_core::fuzzing::{self, Case, Outcome, Source, BUDGETS};
use rpc_core::protocol::DecodeLimits;

/// The seed of the short run; a failure names its input, replayed alone with
/// `cargo bench --bench fuzz -- --seed SEED --start INPUT --count 1`.
const SEED: u64 = 0x5eed;

/// Inputs of the short run: a few seconds in a debug build.
const INPUTS: u64 = 4_000;

fn check(case: &Case, what: impl std::fmt::Display) -> Outcome {
    fuzzing::check(case).unwrap_or_else(|e| panic!("{what} ({}): {e}", case.shape))
}

#[test]
fn a_short_run_breaks_no_invariant_and_reaches_every_decoder() {
    let mut seen = Outcome::default();
    let (mut frames, mut decoded, mut over) = (0, 0, 0);
    for i in 0..INPUTS {
        let case = fuzzing::case(&mut Source::for_input(SEED, i));
        let outcome = check(&case, format_args!("input {i} of seed {SEED}"));
        frames += outcome.frames;
        decoded += usize::from(outcome.decoded);
        over += usize::from(outcome.over);
        seen.hello |= outcome.hello;
    }
    // The harness is not vacuous: it finds frames, decodes messages and hellos, runs budgets out.
    assert!(
        frames > 100 && decoded > 500 && over > 50 && seen.hello,
        "{frames} {decoded} {over} {seen:?}"
    );
}

#[test]
fn a_fuzzers_bytes_drive_the_same_checks() {
    let mut src = Source::seeded(7);
    for i in 0..1_000 {
        let input: Vec<u8> = (0..src.size(2_000)).map(|_| src.byte()).collect();
        let case = fuzzing::case(&mut Source::from_bytes(&input));
        let head = &input[..input.len().min(64)];
        check(
            &case,
            format_args!("fuzzer input {i} of {} bytes: {head:?}...", input.len()),
        );
    }
    // An empty input is a case too (all choices zero).
    check(&fuzzing::case(&mut Source::from_bytes(&[])), "the empty input");
}

#[test]
fn every_amplifying_shape_passes_under_every_small_budget() {
    for i in 0..400 {
        let mut src = Source::for_input(SEED, i);
        let (bytes, shape) = fuzzing::amplifier(&mut src);
        for &budget in BUDGETS {
            let limits = DecodeLimits {
                max_decoded_size: budget,
                ..DecodeLimits::default()
            };
            if let Err(e) = fuzzing::decode_all(&bytes, limits) {
                panic!(
                    "amplifier {i} ({shape}, {} bytes) under {budget}: {e}",
                    bytes.len()
                );
            }
        }
    }
}
