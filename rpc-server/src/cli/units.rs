//! The command line's values: durations (`500ms`, `5s`, `2m`, `1h`; a bare number is seconds),
//! timeouts that may be `off`, byte sizes (`65536`, `64KiB`, `64MiB`, `1GiB`) and keepalive
//! (`INTERVAL[,DEADLINE]` or `off`). Each shows itself the way it is written, so clap's
//! `[default: …]` reads like the input it takes.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rpc_core::Keepalive;

/// A family of units: suffixes with their scale, largest first, and how a bare number counts.
struct Units {
    what: &'static str,
    examples: &'static str,
    /// (suffix, scale), largest first; suffixes are matched ignoring case.
    suffixes: &'static [(&'static str, u64)],
    /// The scale of a number without a suffix.
    bare: u64,
}

/// Durations, in milliseconds.
const TIME: Units = Units {
    what: "duration",
    examples: "500ms, 5s, 2m, 1h or a number of seconds",
    suffixes: &[("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)],
    bare: 1_000,
};

/// Sizes, in bytes.
const SIZE: Units = Units {
    what: "size",
    examples: "65536, 64KiB, 64MiB or 1GiB",
    suffixes: &[("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("B", 1)],
    bare: 1,
};

impl Units {
    /// A whole number and an optional suffix (`64MiB`, `64 MiB`, `65536`), in the base unit.
    fn parse(&self, s: &str) -> Result<u64, String> {
        let s = s.trim();
        let (number, suffix) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
        let suffix = suffix.trim();
        let wrong = || format!("{s:?} is not a {} (write {})", self.what, self.examples);
        let n: u64 = number.parse().map_err(|_| wrong())?;
        let scale = match suffix {
            "" => self.bare,
            _ => self
                .suffixes
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(suffix))
                .map(|(_, scale)| *scale)
                .ok_or_else(wrong)?,
        };
        n.checked_mul(scale).ok_or_else(|| format!("{s:?} is too large"))
    }

    /// `n` base units, with the largest suffix that shows it exactly.
    fn show(&self, f: &mut fmt::Formatter<'_>, n: u64) -> fmt::Result {
        match self
            .suffixes
            .iter()
            .find(|(_, scale)| n > 0 && n.is_multiple_of(*scale))
        {
            Some((name, scale)) => write!(f, "{}{name}", n / scale),
            None => write!(f, "{n}"),
        }
    }
}

/// A length of time, written `500ms`, `5s`, `2m`, `1h` or a bare number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span(pub Duration);

impl FromStr for Span {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        TIME.parse(s).map(|ms| Span(Duration::from_millis(ms)))
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        TIME.show(f, u64::try_from(self.0.as_millis()).unwrap_or(u64::MAX))
    }
}

/// A timeout that may be turned off: a [`Span`] or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout(pub Option<Duration>);

impl FromStr for Timeout {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "off" | "none" => Ok(Timeout(None)),
            other => Ok(Timeout(Some(other.parse::<Span>()?.0))),
        }
    }
}

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("off"),
            Some(d) => Span(d).fmt(f),
        }
    }
}

/// A number of bytes, written plain or with a binary suffix: `65536`, `64KiB`, `64MiB`, `1GiB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size(pub usize);

impl FromStr for Size {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bytes = SIZE.parse(s)?;
        usize::try_from(bytes)
            .map(Size)
            .map_err(|_| format!("{s:?} is too large"))
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        SIZE.show(f, self.0 as u64)
    }
}

/// Keepalive: `INTERVAL[,DEADLINE]` ([`Span`]s; the deadline defaults to three intervals) or
/// `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepaliveArg(pub Option<Keepalive>);

impl FromStr for KeepaliveArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s == "off" {
            return Ok(KeepaliveArg(None));
        }
        let (interval, deadline) = match s.split_once(',') {
            Some((interval, deadline)) => (interval.parse::<Span>()?.0, Some(deadline.parse::<Span>()?.0)),
            None => (s.parse::<Span>()?.0, None),
        };
        if interval.is_zero() {
            return Err("the keepalive interval must be above zero (or say `off`)".into());
        }
        let deadline = deadline.unwrap_or(interval * 3);
        if deadline < interval {
            return Err(format!(
                "the keepalive deadline ({}) is shorter than its interval ({})",
                Span(deadline),
                Span(interval)
            ));
        }
        Ok(KeepaliveArg(Some(Keepalive::new(interval, deadline))))
    }
}

impl fmt::Display for KeepaliveArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("off"),
            Some(k) => write!(f, "{},{}", Span(k.interval), Span(k.deadline)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn durations_take_units_or_plain_seconds() {
        assert_eq!("5".parse(), Ok(Span(secs(5))));
        assert_eq!("5s".parse(), Ok(Span(secs(5))));
        assert_eq!("500ms".parse(), Ok(Span(Duration::from_millis(500))));
        assert_eq!("2m".parse(), Ok(Span(secs(120))));
        assert_eq!("1h".parse(), Ok(Span(secs(3600))));
        assert!("".parse::<Span>().is_err());
        assert!("5 days".parse::<Span>().is_err());
        assert!("-5s".parse::<Span>().is_err());
        assert!("1.5s".parse::<Span>().is_err());
        assert!(u64::MAX.to_string().parse::<Span>().is_err());
    }

    #[test]
    fn durations_show_as_written() {
        assert_eq!(Span(secs(600)).to_string(), "10m");
        assert_eq!(Span(secs(90)).to_string(), "90s");
        assert_eq!(Span(Duration::from_millis(1500)).to_string(), "1500ms");
        assert_eq!(Span(Duration::ZERO).to_string(), "0");
        assert_eq!(Timeout(None).to_string(), "off");
        assert_eq!("off".parse(), Ok(Timeout(None)));
        assert_eq!("30s".parse(), Ok(Timeout(Some(secs(30)))));
    }

    #[test]
    fn sizes_take_binary_suffixes() {
        assert_eq!("65536".parse(), Ok(Size(65536)));
        assert_eq!("64KiB".parse(), Ok(Size(64 << 10)));
        assert_eq!("64mib".parse(), Ok(Size(64 << 20)));
        assert_eq!("1GiB".parse(), Ok(Size(1 << 30)));
        assert!("64MB".parse::<Size>().is_err());
        assert!("64 MiB".parse::<Size>().is_ok());
        assert!("MiB".parse::<Size>().is_err());
        assert_eq!(Size(64 << 20).to_string(), "64MiB");
        assert_eq!(Size(1000).to_string(), "1000B");
        assert_eq!("1000B".parse(), Ok(Size(1000)));
    }

    #[test]
    fn keepalive_takes_an_interval_a_deadline_or_off() {
        let both: KeepaliveArg = "5s,15s".parse().expect("5s,15s");
        assert_eq!(both.0, Some(Keepalive::new(secs(5), secs(15))));
        assert_eq!("5,15".parse(), Ok(both));
        assert_eq!("5s".parse(), Ok(both), "the deadline defaults to three intervals");
        assert_eq!("off".parse(), Ok(KeepaliveArg(None)));
        assert_eq!(both.to_string(), "5s,15s");
        assert!("0s".parse::<KeepaliveArg>().is_err());
        assert!("10s,5s".parse::<KeepaliveArg>().is_err());
        assert!("5s,".parse::<KeepaliveArg>().is_err());
    }
}
