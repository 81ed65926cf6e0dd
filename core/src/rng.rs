//! Seeded randomness: a run's seed derives an independent generator per purpose, so a new draw
//! in one place never shifts the numbers drawn in another.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The generator every random draw comes from (portable, serialisable, reproducible).
pub type Rng = ChaCha8Rng;

/// A run's seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Seed(pub u64);

impl Seed {
    /// A generator for one purpose ("init", "data", "exploration", …).
    pub fn rng(self, purpose: &str) -> Rng {
        Rng::seed_from_u64(self.derive(purpose).0)
    }

    /// A child seed for one purpose; the same seed and purpose always give the same child.
    pub fn derive(self, purpose: &str) -> Seed {
        Seed(splitmix64(self.0 ^ fnv1a(purpose.as_bytes())))
    }

    /// A child seed for an index (task `i`, episode `i`, worker `i`).
    pub fn index(self, i: u64) -> Seed {
        Seed(splitmix64(
            self.0.wrapping_add(splitmix64(i.wrapping_add(0x9E37_79B9))),
        ))
    }
}

/// FNV-1a, a fixed hash (unlike std's), so derived seeds never change between builds.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// SplitMix64's finaliser: spreads nearby inputs over the whole range.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng as _;

    #[test]
    fn purposes_are_independent_and_reproducible() {
        let s = Seed(7);
        let a1: u64 = s.rng("data").random();
        let a2: u64 = s.rng("data").random();
        let b: u64 = s.rng("init").random();
        assert_eq!(a1, a2);
        assert_ne!(a1, b);
        assert_ne!(s.index(0), s.index(1));
        assert_eq!(s.index(3), Seed(7).index(3));
    }
}
