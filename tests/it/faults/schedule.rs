//! The seeded generator, the fault profiles and the per-direction fault schedules: pure
//! functions of the seed, the relay's salt, the connection's number and the direction.

use std::time::Duration;

use rpc::ConnectionConfig;

use super::{CALL_TIMEOUT, LOSSLESS_CALL_TIMEOUT, MAX_CONNS, SALT_TEST, SALT_VAULT};

/// xorshift64, seeded through splitmix64 so that neighbouring seeds diverge at once.
pub(super) struct XorShift(u64);

impl XorShift {
    pub(super) fn new(seed: u64) -> Self {
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        XorShift((z ^ (z >> 31)) | 1)
    }

    pub(super) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in `lo..=hi`.
    pub(super) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    pub(super) fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// What a seed's relays may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Profile {
    /// Only split writes: nothing may fail.
    SplitOnly,
    /// Only delays: nothing may fail.
    DelayOnly,
    /// Splits and delays: nothing may fail.
    Benign,
    /// Splits, delays and stalls: calls may time out, the connection must survive.
    Stalls,
    /// Everything, resets and half-closes included.
    Hostile,
}

impl Profile {
    pub(super) fn of(seed: u64) -> Self {
        match seed % 8 {
            0 => Profile::SplitOnly,
            1 => Profile::DelayOnly,
            2 => Profile::Benign,
            3 => Profile::Stalls,
            _ => Profile::Hostile,
        }
    }

    /// No call may fail.
    pub(super) fn lossless(self) -> bool {
        matches!(self, Profile::SplitOnly | Profile::DelayOnly | Profile::Benign)
    }

    /// The call and handshake timeout of the seed's connections.
    fn call_timeout(self) -> Duration {
        if self.lossless() {
            LOSSLESS_CALL_TIMEOUT
        } else {
            CALL_TIMEOUT
        }
    }

    /// A call or a connect that takes longer than this hangs: a failure.
    pub(super) fn deadline(self) -> Duration {
        self.call_timeout() + Duration::from_secs(4)
    }

    pub(super) fn config(self) -> ConnectionConfig {
        ConnectionConfig::default()
            .call_timeout(Some(self.call_timeout()))
            .handshake_timeout(self.call_timeout())
    }

    /// Every connection survives.
    pub(super) fn keeps_connections(self) -> bool {
        self != Profile::Hostile
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dir {
    /// Client to server.
    Up,
    /// Server to client.
    Down,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fault {
    /// Holds the bytes from here for a moment (a few ms).
    Delay(Duration),
    /// Writes the next `bytes` bytes in pieces of 1 to `piece` bytes.
    Split { bytes: u64, piece: u64 },
    /// Pauses the direction for long (up to past the call timeout).
    Stall(Duration),
    /// Drops both sockets with zero linger: each side gets a reset.
    Reset,
    /// Shuts down the write side of this direction and discards what else comes.
    HalfClose,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Event {
    /// Byte offset of the direction's stream at which the fault applies.
    pub(super) at: u64,
    pub(super) fault: Fault,
}

/// The faults of one direction of one relayed connection: a pure function of its arguments.
pub(super) fn schedule(seed: u64, salt: u64, conn: u64, dir: Dir, profile: Profile) -> Vec<Event> {
    let d = match dir {
        Dir::Up => 0,
        Dir::Down => 1,
    };
    let mut rng = XorShift::new(seed.wrapping_mul(1_000_003) ^ (salt << 40) ^ (conn << 8) ^ d);
    let mut events = Vec::new();
    // The first event may land inside the handshake.
    let mut at = rng.range(0, 48);
    let mut stalls = 0;
    let count = rng.range(20, 200);
    for _ in 0..count {
        let fault = match profile {
            Profile::SplitOnly => split(&mut rng),
            Profile::DelayOnly => delay(&mut rng),
            Profile::Benign if rng.chance(50) => split(&mut rng),
            Profile::Benign => delay(&mut rng),
            Profile::Stalls => match rng.range(0, 99) {
                0..=44 => split(&mut rng),
                45..=89 => delay(&mut rng),
                // Not inside the handshake: a stalled hello times the handshake out on one
                // side while the other side's completes, and that connection is lost.
                _ if stalls < 2 && at >= 1_024 => {
                    stalls += 1;
                    stall(&mut rng)
                }
                _ => delay(&mut rng),
            },
            Profile::Hostile => match rng.range(0, 99) {
                0..=44 => split(&mut rng),
                45..=84 => delay(&mut rng),
                85..=91 if stalls < 2 => {
                    stalls += 1;
                    stall(&mut rng)
                }
                85..=91 => delay(&mut rng),
                92..=95 => Fault::Reset,
                _ => Fault::HalfClose,
            },
        };
        events.push(Event { at, fault });
        if matches!(fault, Fault::Reset | Fault::HalfClose) {
            break;
        }
        at += match rng.range(0, 99) {
            0..=49 => rng.range(1, 256),
            50..=84 => rng.range(256, 8_192),
            _ => rng.range(8_192, 131_072),
        };
    }
    events
}

fn split(rng: &mut XorShift) -> Fault {
    Fault::Split {
        bytes: rng.range(1, 3_000),
        piece: rng.range(1, 16),
    }
}

fn stall(rng: &mut XorShift) -> Fault {
    Fault::Stall(Duration::from_millis(rng.range(100, 2_500)))
}

fn delay(rng: &mut XorShift) -> Fault {
    Fault::Delay(Duration::from_millis(rng.range(1, 15)))
}

/// The schedules of a seed's first connections, for failure messages.
pub(super) fn describe_schedules(seed: u64) -> String {
    let profile = Profile::of(seed);
    let mut out = format!("seed {seed} ({profile:?}); rerun alone with RPC_FAULT_SEED={seed}\n");
    for (name, salt) in [("test", SALT_TEST), ("vault", SALT_VAULT)] {
        for conn in 0..MAX_CONNS {
            for dir in [Dir::Up, Dir::Down] {
                let events = schedule(seed, salt, conn, dir, profile);
                let shown: Vec<String> = events
                    .iter()
                    .filter(|e| !matches!(e.fault, Fault::Delay(_) | Fault::Split { .. }))
                    .map(|e| format!("{:?}@{}", e.fault, e.at))
                    .collect();
                out.push_str(&format!(
                    "  {name} conn {conn} {dir:?}: {} events, first at byte {}, stalls/ends: [{}]\n",
                    events.len(),
                    events.first().map_or(0, |e| e.at),
                    shown.join(", ")
                ));
            }
        }
    }
    out
}
