//! Choosing an upstream: weighted A/B, sticky by a header's hash, passive health (skip an upstream
//! after consecutive failures for a cool-down), and the retry budget.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::{HealthConfig, RetryConfig};

/// A fast, thread-safe pseudo-random generator (splitmix64 over an atomic counter) for traffic splits.
#[derive(Debug)]
pub struct SplitRng(AtomicU64);

impl SplitRng {
    /// Seeds from the clock and the process's random hash keys.
    pub fn new() -> Self {
        use std::hash::BuildHasher;
        let seed =
            std::collections::hash_map::RandomState::new().hash_one(std::time::SystemTime::now());
        Self(AtomicU64::new(seed))
    }

    /// A seeded generator (tests, benches).
    pub fn with_seed(seed: u64) -> Self {
        Self(AtomicU64::new(seed))
    }

    /// The next value.
    pub fn next_u64(&self) -> u64 {
        let mut z = self
            .0
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl Default for SplitRng {
    fn default() -> Self {
        Self::new()
    }
}

/// A stable 64-bit hash of a sticky key (FNV-1a: the same across processes and restarts).
pub fn sticky_hash(key: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // Finalize (splitmix) so that nearby keys spread over the weights.
    h = (h ^ (h >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    h ^ (h >> 31)
}

/// Passive health of one upstream.
#[derive(Debug)]
pub struct Health {
    consecutive_failures: AtomicU32,
    /// Milliseconds since `epoch` until which the upstream is skipped (0: not skipped).
    ejected_until_ms: AtomicU64,
    epoch: Instant,
    cfg: HealthConfig,
}

impl Health {
    /// A healthy state.
    pub fn new(cfg: HealthConfig) -> Self {
        Self {
            consecutive_failures: AtomicU32::new(0),
            ejected_until_ms: AtomicU64::new(0),
            epoch: Instant::now(),
            cfg,
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Whether the upstream may be picked now.
    pub fn is_available(&self) -> bool {
        let until = self.ejected_until_ms.load(Ordering::Relaxed);
        until == 0 || self.now_ms() >= until
    }

    /// Consecutive failures that eject the upstream.
    pub fn threshold(&self) -> u32 {
        self.cfg.failure_threshold
    }

    /// How long an ejected upstream is skipped.
    pub fn cooldown(&self) -> Duration {
        Duration::from_millis(self.cfg.cooldown_ms)
    }

    /// Records a success: the failure streak ends.
    pub fn success(&self) {
        if self.consecutive_failures.load(Ordering::Relaxed) != 0 {
            self.consecutive_failures.store(0, Ordering::Relaxed);
        }
        if self.ejected_until_ms.load(Ordering::Relaxed) != 0 {
            self.ejected_until_ms.store(0, Ordering::Relaxed);
        }
    }

    /// Records a failure; returns true when this failure ejects the upstream.
    pub fn failure(&self) -> bool {
        let n = self.consecutive_failures.fetch_add(1, Ordering::Relaxed) + 1;
        if n >= self.cfg.failure_threshold {
            self.consecutive_failures.store(0, Ordering::Relaxed);
            let until = self.now_ms() + self.cfg.cooldown_ms.max(1);
            self.ejected_until_ms.store(until, Ordering::Relaxed);
            return true;
        }
        false
    }
}

/// Picks an index among `weights` (weight 0: never), skipping `exclude`d and unavailable ones.
///
/// With a sticky hash the same key maps to the same upstream while it is available; otherwise (or when
/// it is not) a weighted random choice among the available ones. When none is available but some are
/// only ejected, those are used (fail open) rather than refusing traffic.
pub fn pick(
    weights: &[u32],
    available: &dyn Fn(usize) -> bool,
    exclude: &[usize],
    sticky: Option<u64>,
    rng: &SplitRng,
) -> Option<usize> {
    if let Some(h) = sticky {
        if let Some(i) = weighted(weights, &|i| weights[i] > 0, h) {
            if !exclude.contains(&i) && available(i) {
                return Some(i);
            }
        }
    }
    let healthy = |i: usize| weights[i] > 0 && !exclude.contains(&i) && available(i);
    if let Some(i) = weighted(weights, &healthy, rng.next_u64()) {
        return Some(i);
    }
    let open = |i: usize| weights[i] > 0 && !exclude.contains(&i);
    weighted(weights, &open, rng.next_u64())
}

fn weighted(weights: &[u32], ok: &dyn Fn(usize) -> bool, r: u64) -> Option<usize> {
    let total: u64 = (0..weights.len())
        .filter(|i| ok(*i))
        .map(|i| u64::from(weights[i]))
        .sum();
    if total == 0 {
        return None;
    }
    let mut target = r % total;
    for (i, w) in weights.iter().enumerate() {
        if !ok(i) {
            continue;
        }
        let w = u64::from(*w);
        if target < w {
            return Some(i);
        }
        target -= w;
    }
    None
}

/// A retry budget: each request earns `ratio` retries, plus `min_per_second` always; a retry spends one.
#[derive(Debug)]
pub struct RetryBudget {
    cfg: RetryConfig,
    state: Mutex<(f64, Instant)>,
}

impl RetryBudget {
    /// A full budget.
    pub fn new(cfg: RetryConfig) -> Self {
        Self {
            cfg,
            state: Mutex::new((cap(&cfg), Instant::now())),
        }
    }

    /// Retries of one request at most.
    pub fn max_retries(&self) -> u32 {
        self.cfg.max_retries
    }

    /// Records a request (earns `ratio`).
    pub fn deposit(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.0 = (s.0 + self.cfg.budget_ratio).min(cap(&self.cfg));
        }
    }

    /// Takes one retry from the budget if there is one.
    pub fn try_withdraw(&self) -> bool {
        let Ok(mut s) = self.state.lock() else {
            return false;
        };
        let now = Instant::now();
        let elapsed = now.duration_since(s.1).as_secs_f64();
        s.1 = now;
        s.0 = (s.0 + elapsed * self.cfg.min_retries_per_second).min(cap(&self.cfg));
        if s.0 >= 1.0 {
            s.0 -= 1.0;
            true
        } else {
            false
        }
    }
}

fn cap(cfg: &RetryConfig) -> f64 {
    (cfg.min_retries_per_second * 10.0).max(10.0 * cfg.budget_ratio.max(0.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_split_follows_weights() {
        let rng = SplitRng::with_seed(7);
        let mut counts = [0usize; 3];
        for _ in 0..100_000 {
            counts[pick(&[1, 3, 0], &|_| true, &[], None, &rng).unwrap()] += 1;
        }
        assert_eq!(counts[2], 0);
        let share = counts[1] as f64 / 100_000.0;
        assert!((share - 0.75).abs() < 0.01, "{counts:?}");
    }

    #[test]
    fn sticky_is_stable_and_spreads() {
        let rng = SplitRng::with_seed(1);
        let mut seen = [0usize; 2];
        for user in 0..200 {
            let h = sticky_hash(format!("user-{user}").as_bytes());
            let first = pick(&[1, 1], &|_| true, &[], Some(h), &rng).unwrap();
            for _ in 0..5 {
                assert_eq!(pick(&[1, 1], &|_| true, &[], Some(h), &rng), Some(first));
            }
            seen[first] += 1;
        }
        assert!(seen[0] > 50 && seen[1] > 50, "{seen:?}");
    }

    #[test]
    fn skips_unavailable_and_excluded_then_fails_open() {
        let rng = SplitRng::with_seed(3);
        for _ in 0..100 {
            assert_eq!(pick(&[1, 1], &|i| i == 1, &[], None, &rng), Some(1));
            assert_eq!(pick(&[1, 1], &|_| true, &[1], None, &rng), Some(0));
            assert_eq!(pick(&[1, 1], &|_| false, &[0], None, &rng), Some(1));
        }
        assert_eq!(pick(&[1, 1], &|_| true, &[0, 1], None, &rng), None);
    }

    #[test]
    fn health_ejects_after_threshold() {
        let h = Health::new(HealthConfig {
            failure_threshold: 3,
            cooldown_ms: 60_000,
        });
        assert!(!h.failure());
        h.success();
        assert!(!h.failure());
        assert!(!h.failure());
        assert!(h.is_available());
        assert!(h.failure());
        assert!(!h.is_available());
        h.success();
        assert!(h.is_available());
    }

    #[test]
    fn budget_limits_retries() {
        let b = RetryBudget::new(RetryConfig {
            max_retries: 1,
            budget_ratio: 0.0,
            min_retries_per_second: 0.0,
        });
        let mut granted = 0;
        while b.try_withdraw() {
            granted += 1;
            assert!(granted < 1000);
        }
        assert!(granted >= 1);
        assert!(!b.try_withdraw());
    }
}
