//! The small statistics the table needs: latency percentiles and the median of rates.

/// Latency figures of a set of samples, in microseconds.
#[derive(Debug, Clone, Copy)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Arithmetic mean.
    pub mean: f64,
}

impl Latency {
    /// Summarises samples given in nanoseconds.
    pub fn of(samples: &mut [u64]) -> Latency {
        assert!(!samples.is_empty(), "no samples");
        samples.sort_unstable();
        let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize] as f64 / 1e3;
        let mean = samples.iter().sum::<u64>() as f64 / samples.len() as f64 / 1e3;
        Latency {
            p50: at(0.50),
            p99: at(0.99),
            mean,
        }
    }
}

/// The median of a few figures (rates of repeated rounds).
pub fn median(values: &mut [f64]) -> f64 {
    assert!(!values.is_empty(), "no values");
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
