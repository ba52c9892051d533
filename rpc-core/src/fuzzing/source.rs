//! Where the harness's choices come from: a seeded generator (the bench and the tests), or the
//! bytes a coverage-guided fuzzer hands over (read as `arbitrary`'s `Unstructured` reads them:
//! each choice takes the few bytes it needs, and zeros once the input is used up, so a short
//! input makes a small case).

/// A stream of choices.
#[derive(Debug, Clone)]
pub struct Source<'a> {
    inner: Inner<'a>,
}

#[derive(Debug, Clone)]
enum Inner<'a> {
    /// splitmix64 state.
    Seeded(u64),
    /// The fuzzer's input not read yet.
    Bytes(&'a [u8]),
}

impl Source<'static> {
    /// Choices from a generator seeded with `seed`.
    pub fn seeded(seed: u64) -> Self {
        Source {
            inner: Inner::Seeded(seed),
        }
    }

    /// The choices of input `index` of a run seeded with `seed`: each input has a source of
    /// its own, so one failing input is replayed alone.
    pub fn for_input(seed: u64, index: u64) -> Self {
        let mut mixer = Source::seeded(seed ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        Source::seeded(mixer.u64())
    }
}

impl<'a> Source<'a> {
    /// Choices read from `bytes`, a fuzzer's input.
    pub fn from_bytes(bytes: &'a [u8]) -> Self {
        Source {
            inner: Inner::Bytes(bytes),
        }
    }

    /// The next `n` bytes (at most 8) as a little-endian number.
    fn take(&mut self, n: usize) -> u64 {
        match &mut self.inner {
            Inner::Seeded(state) => {
                *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut z = *state;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                z ^ (z >> 31)
            }
            Inner::Bytes(rest) => {
                let n = n.min(rest.len());
                let (head, tail) = rest.split_at(n);
                *rest = tail;
                head.iter().rev().fold(0, |acc, &b| (acc << 8) | u64::from(b))
            }
        }
    }

    /// Any `u64`.
    pub fn u64(&mut self) -> u64 {
        self.take(8)
    }

    /// Any byte.
    pub fn byte(&mut self) -> u8 {
        self.take(1) as u8
    }

    /// A number below `n` (0 when `n` is 0 or 1).
    pub fn below(&mut self, n: usize) -> usize {
        if n <= 1 {
            return 0;
        }
        let bytes = (usize::BITS - (n - 1).leading_zeros()).div_ceil(8) as usize;
        (self.take(bytes) % n as u64) as usize
    }

    /// A size up to `max`, small ones far more often than large ones.
    pub fn size(&mut self, max: usize) -> usize {
        let bound = self.below(max.saturating_add(1));
        self.below(bound.saturating_add(1))
    }

    /// True once in `n` times.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    /// One of `items`.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// Up to `max` bytes: what is left of a fuzzer's input, or random ones.
    pub fn bytes(&mut self, max: usize) -> Vec<u8> {
        match &mut self.inner {
            Inner::Bytes(rest) => {
                let n = max.min(rest.len());
                let (head, tail) = rest.split_at(n);
                *rest = tail;
                head.to_vec()
            }
            Inner::Seeded(_) => {
                let n = self.size(max);
                (0..n).map(|_| self.byte()).collect()
            }
        }
    }
}
