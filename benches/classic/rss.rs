//! Resident memory of a process from /proc (Linux): `VmRSS`, the peak `VmHWM` and its reset,
//! and a sampler for when the reset is refused; and the CPU time it has used.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the sampler looks.
const EVERY: Duration = Duration::from_millis(2);

/// A field of `/proc/PID/status` given in kB (`VmRSS`, `VmHWM`), in bytes.
fn status_bytes(pid: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line[field.len()..]
        .trim_start_matches(':')
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// The CPU time `pid` has used so far (user and system, all its threads), in milliseconds:
/// `utime` and `stime` of `/proc/PID/stat`, in ticks of Linux's `USER_HZ` (100 per second).
pub fn cpu_ms(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
    // After the command's name in parentheses: state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .map(|t| t.parse::<u64>().expect("a tick count"))
        .sum();
    ticks * 10
}

/// What a process held at rest, and watches its peak from then on.
pub struct Watch {
    /// `self` or a process id.
    pid: String,
    /// `VmRSS` when the watch began.
    baseline: u64,
    /// Whether `VmHWM` was reset to `VmRSS` when the watch began.
    reset: bool,
}

impl Watch {
    /// Notes `pid`'s resident memory now as its idle baseline and resets its peak.
    pub fn begin(pid: &str) -> Watch {
        let baseline = status_bytes(pid, "VmRSS").expect("VmRSS in /proc/PID/status");
        // Writing 5 to clear_refs resets the peak resident size to the current one.
        let reset = std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok();
        Watch {
            pid: pid.to_owned(),
            baseline,
            reset,
        }
    }

    /// The highest resident memory since [`Watch::begin`] above the baseline, in bytes:
    /// `VmHWM` if it was reset, and at least `sampled` (the sampler's highest `VmRSS`).
    pub fn peak_above(&self, sampled: u64) -> u64 {
        let hwm = if self.reset {
            status_bytes(&self.pid, "VmHWM").unwrap_or(0)
        } else {
            0
        };
        hwm.max(sampled).saturating_sub(self.baseline)
    }

    /// Whether the peak comes from `VmHWM` (else only from sampling).
    pub fn exact(&self) -> bool {
        self.reset
    }
}

/// Samples the `VmRSS` of some processes every [`EVERY`] on a thread of its own.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Vec<u64>>,
}

impl Sampler {
    /// Starts sampling `pids`.
    pub fn start(pids: &[&str]) -> Sampler {
        let pids: Vec<String> = pids.iter().map(|p| (*p).to_owned()).collect();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut highest = vec![0; pids.len()];
            // Bounded: a transfer that outlived this many samples has failed its time limit.
            for _ in 0..(600_000 / EVERY.as_millis() as usize) {
                for (pid, high) in pids.iter().zip(&mut highest) {
                    *high = (*high).max(status_bytes(pid, "VmRSS").unwrap_or(0));
                }
                if stopped.load(Ordering::Relaxed) {
                    break;
                }
                std::thread::sleep(EVERY);
            }
            highest
        });
        Sampler { stop, thread }
    }

    /// Stops and returns each process's highest `VmRSS` seen, in bytes.
    pub fn finish(self) -> Vec<u64> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("sampler thread")
    }
}
