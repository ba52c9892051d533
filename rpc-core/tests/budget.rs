//! No decoder holds more than its budget: every decode of a frame under
//! `DecodeLimits { max_decoded_size: B, .. }` stays at its peak within B and a small fixed
//! slack (`rpc_core::fuzzing::peak_allowance`), on frames built to amplify and on the fuzz
//! harness's inputs.
//!
//! A test binary of its own with a single test: the counting allocator counts the whole
//! process, so nothing else may run while a decode is measured. The long run is
//! `cargo bench --bench fuzz`.

use std::alloc::System;
use std::collections::BTreeMap;

use peakmem_alloc::{PeakMemAlloc, PeakMemAllocTrait, INSTRUMENTED_SYSTEM};
use rpc_core::fuzzing::{self, Case, Source, BUDGETS};
use rpc_core::protocol::DecodeLimits;

#[global_allocator]
static GLOBAL: &PeakMemAlloc<System> = &INSTRUMENTED_SYSTEM;

const SEED: u64 = 0xb0d6e7;

/// The peak growth of live heap bytes while `f` runs.
fn peak(f: &mut dyn FnMut()) -> usize {
    GLOBAL.reset_peak_memory();
    f();
    GLOBAL.get_peak_memory()
}

#[test]
fn no_decode_holds_more_than_its_budget() {
    // Every amplifying shape, at several sizes, under every small budget.
    let mut worst: BTreeMap<(&str, usize), usize> = BTreeMap::new();
    for i in 0..150 {
        let (bytes, shape) = fuzzing::amplifier(&mut Source::for_input(SEED, i));
        for &budget in BUDGETS {
            let case = Case {
                message: None,
                bytes: bytes.clone(),
                limits: DecodeLimits {
                    max_decoded_size: budget,
                    ..DecodeLimits::default()
                },
                shape,
            };
            let peaks = fuzzing::check_peaks(&case, peak).unwrap_or_else(|e| panic!("amplifier {i}: {e}"));
            let most = worst.entry((shape, budget)).or_default();
            *most = (*most).max(peaks.owned.max(peaks.borrowed));
        }
    }
    for ((shape, budget), peak) in &worst {
        println!("{shape:>40} under {budget:>7}: peak {peak:>8}");
    }
    // The harness's inputs, each under its own limits.
    for i in 0..1_500 {
        let case = fuzzing::case(&mut Source::for_input(SEED, i));
        if let Err(e) = fuzzing::check_peaks(&case, peak) {
            panic!("input {i} of seed {SEED}: {e}");
        }
    }
}
