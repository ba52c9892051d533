//! The bench's tables: a row per round and a row of medians per step, in the same columns,
//! and the goals of issue 16, part 3.

use crate::common::median;
use crate::goals::{self, Goal};
use crate::{Measured, Plan, Step};

/// The columns after a row's label.
const COLUMNS: [&str; 12] = [
    "rpc k/s", "raw k/s", "rpc/raw", "p50 rpc", "p50 raw", "p99 rpc", "p99 raw", "rpc/raw", "srv rpc",
    "srv raw", "cli rpc", "cli raw",
];

/// Column widths of a table: the label, the throughputs, the latencies.
#[derive(Clone, Copy)]
pub struct Widths {
    pub label: usize,
    pub rate: usize,
    pub latency: usize,
}

/// A round's table (its label is the round's number).
pub const ROUNDS: Widths = Widths {
    label: 6,
    rate: 10,
    latency: 9,
};

/// The table of medians.
const MEDIANS: Widths = Widths {
    label: 32,
    rate: 9,
    latency: 8,
};

/// The figures of one row: one round's (rpc and raw side by side) or a step's medians.
#[derive(Clone, Copy)]
pub struct Figures {
    pub rpc_rate: f64,
    pub raw_rate: f64,
    /// rpc ÷ raw throughput.
    pub rate_ratio: f64,
    pub rpc_p50: f64,
    pub raw_p50: f64,
    pub rpc_p99: f64,
    pub raw_p99: f64,
    /// rpc ÷ raw p99.
    pub p99_ratio: f64,
    pub rpc_cpu: f64,
    pub raw_cpu: f64,
    pub rpc_client_cpu: f64,
    pub raw_client_cpu: f64,
}

impl Figures {
    /// One round's figures.
    pub fn of_round(rpc: &Measured, raw: &Measured) -> Figures {
        Figures {
            rpc_rate: rpc.rate,
            raw_rate: raw.rate,
            rate_ratio: rpc.rate / raw.rate,
            rpc_p50: rpc.latency.p50,
            raw_p50: raw.latency.p50,
            rpc_p99: rpc.latency.p99,
            raw_p99: raw.latency.p99,
            p99_ratio: rpc.latency.p99 / raw.latency.p99,
            rpc_cpu: rpc.cpu_per_call,
            raw_cpu: raw.cpu_per_call,
            rpc_client_cpu: rpc.client_cpu_per_call,
            raw_client_cpu: raw.client_cpu_per_call,
        }
    }

    /// Each figure's median over `rounds` (ratios are the medians of the rounds' ratios).
    pub fn medians(rounds: &[Figures]) -> Figures {
        let med = |f: fn(&Figures) -> f64| median(&mut rounds.iter().map(f).collect::<Vec<_>>());
        Figures {
            rpc_rate: med(|f| f.rpc_rate),
            raw_rate: med(|f| f.raw_rate),
            rate_ratio: med(|f| f.rate_ratio),
            rpc_p50: med(|f| f.rpc_p50),
            raw_p50: med(|f| f.raw_p50),
            rpc_p99: med(|f| f.rpc_p99),
            raw_p99: med(|f| f.raw_p99),
            p99_ratio: med(|f| f.p99_ratio),
            rpc_cpu: med(|f| f.rpc_cpu),
            raw_cpu: med(|f| f.raw_cpu),
            rpc_client_cpu: med(|f| f.rpc_client_cpu),
            raw_client_cpu: med(|f| f.raw_client_cpu),
        }
    }

    /// Prints the row under `label`.
    pub fn print(&self, label: &str, w: Widths) {
        let (l, r, t) = (w.label, w.rate, w.latency);
        println!(
            "{label:<l$} {:>r$.1} {:>r$.1} {:>6.2}x {:>t$.1} {:>t$.1} {:>t$.1} {:>t$.1} {:>6.2}x {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
            self.rpc_rate / 1e3,
            self.raw_rate / 1e3,
            self.rate_ratio,
            self.rpc_p50,
            self.raw_p50,
            self.rpc_p99,
            self.raw_p99,
            self.p99_ratio,
            self.rpc_cpu,
            self.raw_cpu,
            self.rpc_client_cpu,
            self.raw_client_cpu
        );
    }
}

/// Prints a table's header: `label`, then the columns.
pub fn header(label: &str, w: Widths) {
    let (l, r, t) = (w.label, w.rate, w.latency);
    let c = COLUMNS;
    println!(
        "{label:<l$} {:>r$} {:>r$} {:>7} {:>t$} {:>t$} {:>t$} {:>t$} {:>7} {:>9} {:>9} {:>9} {:>9}",
        c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11]
    );
}

/// The medians of one step's rounds.
pub struct StepFigures {
    pub step: Step,
    pub medians: Figures,
    /// The least of the rounds' rpc server CPU per call: a busy machine (steal time, other
    /// processes' cache traffic) only adds to CPU time, so this is the steadiest figure.
    pub rpc_cpu_least: f64,
}

/// The table of medians and the goals.
pub fn summary(plan: &Plan, figures: &[StepFigures]) {
    println!();
    header("medians (latency µs, cpu µs/call)", MEDIANS);
    for f in figures {
        f.medians.print(&f.step.label(), MEDIANS);
    }
    println!(
        "(rpc/raw: median of the rounds' ratios; srv, cli: the server's and the client process's \
         user + system CPU time per call, µs)"
    );
    let find = |connections: usize, all_active: bool| {
        figures
            .iter()
            .find(|f| f.step.connections == connections && (f.step.active == connections) == all_active)
    };
    let mut goals = Vec::new();
    if let Some(f) = find(1_000, true) {
        goals.push(Goal {
            what: "1,000 connections: throughput rpc ÷ raw".into(),
            figure: format!("{:.0}%", f.medians.rate_ratio * 100.0),
            target: "≥ 90%",
            met: f.medians.rate_ratio >= 0.9,
        });
        goals.push(Goal {
            what: "1,000 connections: p99 rpc ÷ raw".into(),
            figure: format!("{:.2}x", f.medians.p99_ratio),
            target: "≤ 1.5x",
            met: f.medians.p99_ratio <= 1.5,
        });
    }
    if let (Some(four), Some(many)) = (
        find(4, true),
        figures.iter().find(|f| f.step.active * 100 == f.step.connections),
    ) {
        let ratio = many.medians.rpc_cpu / four.medians.rpc_cpu;
        goals.push(Goal {
            what: format!("server CPU per call, {} ÷ 4 connections", many.step.label()),
            figure: format!("{ratio:.2}x"),
            target: "≤ 1.2x",
            met: ratio <= 1.2,
        });
        let least = many.rpc_cpu_least / four.rpc_cpu_least;
        goals.push(Goal {
            what: "  the same, least round of each step".into(),
            figure: format!("{least:.2}x"),
            target: "≤ 1.2x",
            met: least <= 1.2,
        });
    }
    goals::summary("issue 16, part 3", &goals, plan.quick);
    if plan.quick {
        println!("(quick check: every call answered and counted by the server; `cargo bench --bench many` measures)");
    }
}
