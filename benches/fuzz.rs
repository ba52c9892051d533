//! The fuzz harness's long run: every decoder a peer reaches, on millions of inputs drawn from
//! one seed (`rpc_core::fuzzing`), each decode's peak memory measured against its budget.
//!
//! Run: `cargo bench --bench fuzz -- [--seed N] [--count N] [--start N]` (10 million inputs
//! from seed 1 by default; a quick run of 2,000 without `--bench`, as `cargo test` runs it).
//! Input `i` of seed `s` is drawn from its own source, so a failure is replayed alone with
//! `--seed s --start i --count 1`. Exits non-zero if any input failed.
//!
//! The counting allocator counts the whole process: the run is single-threaded.

use std::alloc::System;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use peakmem_alloc::{PeakMemAlloc, PeakMemAllocTrait, INSTRUMENTED_SYSTEM};
use rpc_core::fuzzing::{self, Case, Peaks, Source, PEAK_SLACK};

#[global_allocator]
static GLOBAL: &PeakMemAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Failures printed in full; the rest are counted.
const SHOWN: usize = 20;

/// The peak growth of live heap bytes while `f` runs.
fn peak(f: &mut dyn FnMut()) -> usize {
    GLOBAL.reset_peak_memory();
    f();
    GLOBAL.get_peak_memory()
}

/// The value after `--name` on the command line, if any.
fn arg(name: &str) -> Option<u64> {
    let value = std::env::args().skip_while(|a| a != name).nth(1)?;
    Some(
        value
            .parse()
            .unwrap_or_else(|_| panic!("{name} takes a number, not {value:?}")),
    )
}

/// What the run saw, for the summary.
#[derive(Default)]
struct Tally {
    failures: usize,
    frames: usize,
    decoded: usize,
    over: usize,
    hellos: usize,
    /// Inputs and seconds per shape.
    shapes: BTreeMap<&'static str, (usize, f64)>,
    /// The highest peak of any decode, with its budget and shape.
    highest: (usize, usize, &'static str),
    /// The most any decode held past its budget, with the budget and shape.
    past_budget: (usize, usize, &'static str),
    /// The same, among decodes allowed nothing for text outside values (all is charged).
    past_budget_charged: (usize, usize, &'static str),
    /// Decodes past budget and slack (allowed only for text outside values).
    past_slack: usize,
}

impl Tally {
    fn peaks(&mut self, case: &Case, p: Peaks) {
        let budget = case.limits.max_decoded_size;
        for (peak, borrowed) in [(p.owned, false), (p.borrowed, true)] {
            if peak > self.highest.0 {
                self.highest = (peak, budget, case.shape);
            }
            let past = peak.saturating_sub(budget);
            if past > self.past_budget.0 {
                self.past_budget = (past, budget, case.shape);
            }
            let charged = fuzzing::peak_allowance(&case.bytes, case.limits, borrowed) == budget + PEAK_SLACK;
            if charged && past > self.past_budget_charged.0 {
                self.past_budget_charged = (past, budget, case.shape);
            }
            self.past_slack += usize::from(past > PEAK_SLACK);
        }
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let seed = arg("--seed").unwrap_or(1);
    let start = arg("--start").unwrap_or(0);
    let count = arg("--count").unwrap_or(if full { 10_000_000 } else { 2_000 });
    println!("fuzz: seed {seed}, inputs {start}..{}", start + count);
    let began = Instant::now();
    let mut tally = Tally::default();
    for i in start..start + count {
        let case = fuzzing::case(&mut Source::for_input(seed, i));
        let timer = Instant::now();
        let checked = catch_unwind(AssertUnwindSafe(|| {
            let outcome = fuzzing::check(&case)?;
            fuzzing::check_peaks(&case, peak).map(|p| (outcome, p))
        }));
        let shape = tally.shapes.entry(case.shape).or_default();
        *shape = (shape.0 + 1, shape.1 + timer.elapsed().as_secs_f64());
        match checked {
            Ok(Ok((outcome, peaks))) => {
                tally.frames += outcome.frames;
                tally.decoded += usize::from(outcome.decoded);
                tally.over += usize::from(outcome.over);
                tally.hellos += usize::from(outcome.hello);
                tally.peaks(&case, peaks);
            }
            failed => {
                tally.failures += 1;
                if tally.failures <= SHOWN {
                    let why = match failed {
                        Ok(Err(e)) => e,
                        _ => "a decoder panicked (above)".to_owned(),
                    };
                    println!(
                        "FAIL input {i} ({}), replay: --seed {seed} --start {i} --count 1",
                        case.shape
                    );
                    println!("  {why}");
                    println!(
                        "  {} bytes: {:02x?}",
                        case.bytes.len(),
                        &case.bytes[..case.bytes.len().min(64)]
                    );
                }
            }
        }
        if full && (i - start + 1).is_multiple_of(1_000_000) {
            let secs = began.elapsed().as_secs_f64();
            println!(
                "  {} inputs, {:.0} inputs/s",
                i - start + 1,
                (i - start + 1) as f64 / secs
            );
        }
    }
    report(&tally, count, began.elapsed().as_secs_f64());
    if tally.failures > 0 {
        std::process::exit(1);
    }
}

fn report(t: &Tally, count: u64, secs: f64) {
    println!(
        "fuzz: {count} inputs in {secs:.1} s, {:.0} inputs/s, {} failed",
        count as f64 / secs,
        t.failures
    );
    println!(
        "  {} frames split, {} inputs decoded as a message, {} ran out of budget inside a value, {} hellos",
        t.frames, t.decoded, t.over, t.hellos
    );
    println!("  inputs per shape, and the seconds they took:");
    for (shape, (n, secs)) in &t.shapes {
        println!("  {n:>9} {secs:>7.1} s  {shape}");
    }
    let (peak, budget, shape) = t.highest;
    println!("  highest peak of a decode: {peak} bytes (budget {budget}, {shape})");
    let (past, budget, shape) = t.past_budget;
    println!("  most held past the budget: {past} bytes (budget {budget}, {shape})");
    match t.past_budget_charged {
        (0, ..) => println!("  text outside values aside, no decode held more than its budget"),
        (past, budget, shape) => println!(
            "  most held past the budget, text outside values aside: {past} bytes (budget {budget}, {shape})"
        ),
    }
    println!(
        "  decodes past budget + {} KiB of slack (allowed for text outside values only): {}",
        PEAK_SLACK >> 10,
        t.past_slack
    );
}
