//! Retry as data: backoff schedules and the adaptive per-endpoint rate limit.
//!
//! Everything here is pure: time and randomness are arguments, so the schedules are tested
//! exactly and the engine stays deterministic under a seeded random source.

use std::time::Duration;

use tokio::time::Instant;

/// How failed calls are retried.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// The first backoff's upper bound.
    pub base: Duration,
    /// The largest backoff.
    pub cap: Duration,
    /// Attempts of one call that failed with [`crate::provider::ErrorKind::Transient`]
    /// before the resource fails (throttling, conflicts and not-ready retry until the
    /// operation deadline instead).
    pub max_transient_attempts: u32,
    /// How long one operation (with all its retries) may take before it fails.
    pub operation_deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_millis(200),
            cap: Duration::from_secs(20),
            max_transient_attempts: 8,
            operation_deadline: Duration::from_secs(30 * 60),
        }
    }
}

/// "Full jitter" exponential backoff: a delay drawn uniformly from
/// `[0, min(cap, base * 2^attempt)]`, where `unit` is the random draw in `[0, 1)`.
///
/// `attempt` counts from 0 (the delay before the first retry).
pub fn backoff(attempt: u32, base: Duration, cap: Duration, unit: f64) -> Duration {
    let ceiling = base
        .saturating_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX))
        .min(cap);
    ceiling.mul_f64(unit.clamp(0.0, 1.0))
}

/// Settings of the adaptive rate limit kept per endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimitOptions {
    /// Calls per second allowed at the start; `None`: no limit until the endpoint first
    /// throttles a call, then the limit starts from the rate measured at that moment.
    pub initial_rate: Option<f64>,
    /// The rate never drops below this.
    pub min_rate: f64,
    /// A limit that recovers up to this rate is lifted again.
    pub max_rate: f64,
    /// Factor applied to the rate when a call is throttled (0 < factor < 1).
    pub decrease_factor: f64,
    /// Calls per second added after each successful call.
    pub increase_step: f64,
}

impl Default for RateLimitOptions {
    fn default() -> Self {
        RateLimitOptions {
            initial_rate: None,
            min_rate: 0.5,
            max_rate: 500.0,
            decrease_factor: 0.5,
            increase_step: 0.5,
        }
    }
}

/// An adaptive rate limit (additive increase, multiplicative decrease) for one endpoint.
///
/// Without a limit, calls go at once. The first throttled call sets a limit at a fraction of
/// the rate measured over the last second; calls are then spaced `1 / rate` apart
/// ([`RateLimiter::reserve`] hands out the next free slot). Another throttled call divides
/// the rate again (at most once per current spacing, so a burst of throttled answers to
/// calls sent together counts once); a successful call adds a step, and a limit that
/// recovers to `max_rate` is lifted.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    options: RateLimitOptions,
    rate: Option<f64>,
    next_slot: Option<Instant>,
    last_decrease: Option<Instant>,
    window_start: Option<Instant>,
    window_calls: u32,
    previous_window_calls: u32,
}

impl RateLimiter {
    /// A limiter at the initial rate.
    pub fn new(options: RateLimitOptions) -> Self {
        let rate = options
            .initial_rate
            .map(|r| r.clamp(options.min_rate, options.max_rate));
        RateLimiter {
            options,
            rate,
            next_slot: None,
            last_decrease: None,
            window_start: None,
            window_calls: 0,
            previous_window_calls: 0,
        }
    }

    /// The current limit in calls per second (`None`: no limit).
    pub fn rate(&self) -> Option<f64> {
        self.rate
    }

    fn spacing(rate: f64) -> Duration {
        Duration::from_secs_f64(1.0 / rate)
    }

    /// The earliest time a call may start, without taking the slot.
    pub fn earliest(&self, now: Instant) -> Instant {
        match (self.rate, self.next_slot) {
            (Some(_), Some(slot)) => slot.max(now),
            _ => now,
        }
    }

    fn count_call(&mut self, at: Instant) {
        match self.window_start {
            Some(start) if at.saturating_duration_since(start) < Duration::from_secs(1) => {
                self.window_calls += 1
            }
            Some(start) if at.saturating_duration_since(start) < Duration::from_secs(2) => {
                self.previous_window_calls = self.window_calls;
                self.window_start = Some(start + Duration::from_secs(1));
                self.window_calls = 1;
            }
            _ => {
                self.previous_window_calls = 0;
                self.window_start = Some(at);
                self.window_calls = 1;
            }
        }
    }

    /// Calls per second sent recently.
    fn measured_rate(&self) -> f64 {
        f64::from(self.window_calls.max(self.previous_window_calls)).max(1.0)
    }

    /// Takes the next slot: returns `now` when a call may start at once, else the later time
    /// at which it may (the slot is taken either way).
    pub fn reserve(&mut self, now: Instant) -> Instant {
        let at = self.earliest(now);
        if let Some(rate) = self.rate {
            self.next_slot = Some(at + Self::spacing(rate));
        }
        self.count_call(at);
        at
    }

    /// Takes the next slot only if it is free now.
    pub fn try_acquire(&mut self, now: Instant) -> bool {
        if self.earliest(now) <= now {
            self.reserve(now);
            true
        } else {
            false
        }
    }

    /// Records a successful call.
    pub fn on_success(&mut self) {
        if let Some(rate) = self.rate {
            let raised = rate + self.options.increase_step;
            self.rate = (raised < self.options.max_rate).then_some(raised);
        }
    }

    /// Records a throttled call; `retry_after` (if the endpoint said) pushes the next slot.
    pub fn on_throttled(&mut self, now: Instant, retry_after: Option<Duration>) {
        let current = self.rate.unwrap_or_else(|| self.measured_rate());
        let recent = self.last_decrease.is_some_and(|at| {
            self.rate.is_some() && now.saturating_duration_since(at) < Self::spacing(current)
        });
        let rate = if recent {
            current
        } else {
            self.last_decrease = Some(now);
            (current * self.options.decrease_factor)
                .clamp(self.options.min_rate, self.options.max_rate)
        };
        self.rate = Some(rate);
        let pause = retry_after.unwrap_or_default().max(Self::spacing(rate));
        let resume = now + pause;
        if self.next_slot.is_none_or(|slot| slot < resume) {
            self.next_slot = Some(resume);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_the_cap_and_scales_with_the_draw() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(2);
        assert_eq!(backoff(0, base, cap, 1.0), base);
        assert_eq!(backoff(1, base, cap, 1.0), Duration::from_millis(200));
        assert_eq!(backoff(3, base, cap, 0.5), Duration::from_millis(400));
        assert_eq!(backoff(10, base, cap, 1.0), cap);
        assert_eq!(backoff(400, base, cap, 1.0), cap);
        assert_eq!(backoff(5, base, cap, 0.0), Duration::ZERO);
        assert_eq!(
            backoff(1, base, cap, 7.0),
            Duration::from_millis(200),
            "draws are clamped"
        );
    }

    #[test]
    fn no_limit_until_throttled_then_a_fraction_of_the_measured_rate() {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::new(RateLimitOptions::default());
        for i in 0..40 {
            assert_eq!(
                limiter.reserve(t0 + Duration::from_millis(i * 10)),
                t0 + Duration::from_millis(i * 10)
            );
        }
        assert_eq!(limiter.rate(), None);
        let t1 = t0 + Duration::from_millis(400);
        limiter.on_throttled(t1, None);
        assert_eq!(
            limiter.rate(),
            Some(20.0),
            "half of the 40 calls of the last second"
        );
        assert_eq!(limiter.earliest(t1), t1 + Duration::from_millis(50));
    }

    #[test]
    fn slots_are_spaced_by_the_rate() {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::new(RateLimitOptions {
            initial_rate: Some(10.0),
            ..Default::default()
        });
        assert_eq!(limiter.reserve(t0), t0);
        assert_eq!(limiter.reserve(t0), t0 + Duration::from_millis(100));
        assert!(!limiter.try_acquire(t0));
        assert!(limiter.try_acquire(t0 + Duration::from_millis(200)));
    }

    #[test]
    fn throttling_halves_once_per_burst_and_success_recovers_and_lifts() {
        let t0 = Instant::now();
        let opts = RateLimitOptions {
            initial_rate: Some(100.0),
            max_rate: 31.0,
            ..Default::default()
        };
        let mut limiter = RateLimiter::new(RateLimitOptions {
            max_rate: 500.0,
            ..opts.clone()
        });
        limiter.on_throttled(t0, None);
        assert_eq!(limiter.rate(), Some(50.0));
        limiter.on_throttled(t0 + Duration::from_millis(1), None);
        assert_eq!(limiter.rate(), Some(50.0), "the same burst counts once");
        limiter.on_throttled(t0 + Duration::from_millis(100), None);
        assert_eq!(limiter.rate(), Some(25.0));
        for _ in 0..10 {
            limiter.on_success();
        }
        assert_eq!(limiter.rate(), Some(30.0));
        let mut capped = RateLimiter::new(opts);
        capped.on_throttled(t0, None);
        for _ in 0..100 {
            capped.on_success();
        }
        assert_eq!(
            capped.rate(),
            None,
            "a limit that recovers to max_rate is lifted"
        );
    }

    #[test]
    fn retry_after_pushes_the_next_slot_and_the_floor_holds() {
        let t0 = Instant::now();
        let opts = RateLimitOptions {
            initial_rate: Some(1.0),
            min_rate: 0.5,
            ..Default::default()
        };
        let mut limiter = RateLimiter::new(opts);
        limiter.on_throttled(t0, Some(Duration::from_secs(5)));
        assert_eq!(limiter.rate(), Some(0.5));
        assert_eq!(limiter.earliest(t0), t0 + Duration::from_secs(5));
        limiter.on_throttled(t0 + Duration::from_secs(10), None);
        assert_eq!(limiter.rate(), Some(0.5), "never below the floor");
    }
}
