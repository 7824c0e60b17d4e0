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

/// Settings of the adaptive rate limit kept per endpoint and action.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimitOptions {
    /// Calls per second allowed at the start; `None`: no limit until the action is first
    /// throttled, then the limit starts from the rate measured at that moment.
    pub initial_rate: Option<f64>,
    /// The rate never drops below this.
    pub min_rate: f64,
    /// A limit that recovers up to this rate is lifted again.
    pub max_rate: f64,
    /// The deepest cut of one throttled call: the rate falls to at least this factor of
    /// itself (0 < factor < 1).
    pub decrease_factor: f64,
    /// Calls per second added after each successful call while no call was throttled yet
    /// (a limit set by `initial_rate`).
    pub increase_step: f64,
    /// After a cut, the limit grows back as `cut × (1 + probe_growth × t³)`, `t` the
    /// seconds since the cut: flat for the first seconds, just below the rate that was
    /// throttled, then faster (with the default 0.0003: +3 % after 4.6 s, twice the cut
    /// after 15 s, a hundred times after 69 s).
    pub probe_growth: f64,
}

impl Default for RateLimitOptions {
    fn default() -> Self {
        RateLimitOptions {
            initial_rate: None,
            min_rate: 0.5,
            max_rate: 500.0,
            decrease_factor: 0.5,
            increase_step: 0.5,
            probe_growth: 0.0003,
        }
    }
}

/// Calls counted in fixed one-second windows.
#[derive(Debug, Clone, Default)]
struct Window {
    start: Option<Instant>,
    count: u32,
    previous: u32,
}

impl Window {
    fn count(&mut self, at: Instant) {
        match self.start {
            Some(start) if at.saturating_duration_since(start) < Duration::from_secs(1) => {
                self.count += 1
            }
            Some(start) if at.saturating_duration_since(start) < Duration::from_secs(2) => {
                self.previous = self.count;
                self.start = Some(start + Duration::from_secs(1));
                self.count = 1;
            }
            _ => {
                self.previous = 0;
                self.start = Some(at);
                self.count = 1;
            }
        }
    }

    /// Calls per second over the last second: the fuller of the current window and the one
    /// before it (0 when nothing was counted for two seconds).
    fn rate(&self, now: Instant) -> f64 {
        let Some(start) = self.start else {
            return 0.0;
        };
        let age = now.saturating_duration_since(start);
        let calls = if age < Duration::from_secs(1) {
            self.count.max(self.previous)
        } else if age < Duration::from_secs(2) {
            self.count
        } else {
            0
        };
        f64::from(calls)
    }
}

/// An adaptive rate limit for one action of one endpoint.
///
/// Without a limit, calls go at once. Calls are spaced `1 / rate` apart once a call has been
/// throttled ([`RateLimiter::try_acquire`] takes the next free slot). The limiter counts the
/// calls it lets through and the ones the endpoint accepted, per second:
///
/// - a throttled call cuts the rate (at most once per second, or per current spacing if
///   longer, so that the calls refused in one full quota window count once) to what the endpoint accepted
///   over the last second (plus the one call a count over a second may miss), but by at
///   least 3 % and at most to `decrease_factor` of it; with no limit yet, the rate cut is
///   the rate sent over the last second;
/// - after a cut the rate grows back as a cubic of the time since (`probe_growth`): it
///   stays just below the rate that was throttled for seconds, then probes ever faster
///   for more, until the next throttled call or until it reaches `max_rate`, where the
///   limit is lifted. Before any cut (a limit set by `initial_rate`), each successful call
///   adds `increase_step`.
///
/// Against a fixed quota of `q` calls per second the rate settles within a few percent
/// below `q` and touches the quota every several seconds, each time losing one call. (A
/// quota counted in fixed windows punishes every call over it: the refused call fills
/// the window, and the next one starts only with the next call.)
#[derive(Debug, Clone)]
pub struct RateLimiter {
    options: RateLimitOptions,
    rate: Option<f64>,
    next_slot: Option<Instant>,
    last_decrease: Option<Instant>,
    /// The rate set by the last cut.
    cut: f64,
    sent: Window,
    accepted: Window,
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
            cut: 0.0,
            sent: Window::default(),
            accepted: Window::default(),
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

    /// Takes the next slot: returns `now` when a call may start at once, else the later time
    /// at which it may (the slot is taken either way).
    pub fn reserve(&mut self, now: Instant) -> Instant {
        let at = self.earliest(now);
        if let Some(rate) = self.rate {
            self.next_slot = Some(at + Self::spacing(rate));
        }
        self.sent.count(at);
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

    /// Records a successful call answered at `now`.
    pub fn on_success(&mut self, now: Instant) {
        self.accepted.count(now);
        let Some(rate) = self.rate else {
            return;
        };
        let raised = match self.last_decrease {
            Some(at) => {
                let t = now.saturating_duration_since(at).as_secs_f64();
                (self.cut * (1.0 + self.options.probe_growth * t * t * t)).max(rate)
            }
            None => rate + self.options.increase_step,
        };
        if raised < self.options.max_rate {
            self.rate = Some(raised);
        } else {
            self.rate = None;
            self.last_decrease = None;
        }
    }

    /// Records a throttled call answered at `now`; `retry_after` (if the endpoint said)
    /// pushes the next slot.
    pub fn on_throttled(&mut self, now: Instant, retry_after: Option<Duration>) {
        let current = self.rate.unwrap_or_else(|| self.sent.rate(now).max(1.0));
        // Quotas count calls per second: the calls throttled within a second of a cut met
        // the same full window, and count once.
        let recent = self.last_decrease.is_some_and(|at| {
            self.rate.is_some()
                && now.saturating_duration_since(at)
                    < Self::spacing(current).max(Duration::from_secs(1))
        });
        let rate = if recent {
            current
        } else {
            self.last_decrease = Some(now);
            let accepted = self.accepted.rate(now);
            // A count over one second is exact to one call: `accepted + 1` is no cut below
            // what the endpoint can take.
            let target = if accepted > 0.0 { accepted + 1.0 } else { 0.0 };
            let cut = target
                .min(current * 0.97)
                .max(current * self.options.decrease_factor);
            let rate = cut.clamp(self.options.min_rate, self.options.max_rate);
            self.cut = rate;
            rate
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
    fn a_cut_goes_to_the_accepted_rate_once_per_second_and_never_past_the_factor() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut limiter = RateLimiter::new(RateLimitOptions {
            initial_rate: Some(100.0),
            ..Default::default()
        });
        // (Successes grow the rate by a few ten-thousandths in the first second of a cut.)
        let near = |limiter: &RateLimiter, want: f64| {
            let rate = limiter.rate().expect("a limit");
            assert!((rate - want).abs() < want * 1e-3, "{rate} is not {want}");
        };
        let accept_nine = |limiter: &mut RateLimiter, from: u64| {
            for i in 0..9 {
                limiter.on_success(at(from + 10 * i));
            }
        };
        // Nothing accepted yet: the deepest cut, to half.
        limiter.on_throttled(t0, None);
        near(&limiter, 50.0);
        limiter.on_throttled(at(500), None);
        near(&limiter, 50.0); // the same second's window counts once
        accept_nine(&mut limiter, 1000);
        limiter.on_throttled(at(1100), None);
        near(&limiter, 25.0); // toward 9 + 1 accepted, but never below half at once
        limiter.on_throttled(at(2200), None);
        near(&limiter, 12.5);
        accept_nine(&mut limiter, 2300);
        limiter.on_throttled(at(3300), None);
        near(&limiter, 10.0); // the accepted rate, plus one
        accept_nine(&mut limiter, 3400);
        limiter.on_throttled(at(4400), None);
        near(&limiter, 9.7); // at the accepted rate already: a cut of 3 % only
    }

    #[test]
    fn after_a_cut_the_rate_stays_near_it_then_probes_ever_faster_and_is_lifted() {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::new(RateLimitOptions {
            initial_rate: Some(10.0),
            max_rate: 100.0,
            ..Default::default()
        });
        limiter.on_success(t0);
        assert_eq!(
            limiter.rate(),
            Some(10.5),
            "before any cut: a step per success"
        );
        limiter.on_throttled(t0, None);
        let cut = limiter.rate().unwrap();
        assert_eq!(cut, 5.25, "one call accepted, but never below half at once");
        let after = |secs: u64| t0 + Duration::from_secs(secs);
        limiter.on_success(after(2));
        let near = limiter.rate().unwrap();
        assert!(near < cut * 1.01, "flat at first: {near}");
        limiter.on_success(after(15));
        let doubled = limiter.rate().unwrap();
        assert!(doubled > cut * 1.9 && doubled < cut * 2.2, "{doubled}");
        limiter.on_success(after(60));
        assert_eq!(limiter.rate(), None, "past max_rate the limit is lifted");
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
