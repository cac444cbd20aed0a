//! Retries (B.11): `max.retries` after the first attempt, full-jitter exponential backoff
//! `uniform[0, min(retry.backoff.ms << attempt, cap))`, where Confluent's cap is 24 h and Sluice
//! adds `retry.backoff.max.ms` to lower it. `retry.backoff.ms=0` retries at once (Confluent throws).

use std::future::Future;
use std::time::Duration;

use crate::service::CallError;

/// The backoff policy.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// `retry.backoff.ms`.
    pub base: Duration,
    /// The cap (24 h unless `retry.backoff.max.ms` is lower).
    pub max: Duration,
    /// `max.retries`.
    pub max_retries: u32,
}

const DAY: Duration = Duration::from_secs(86_400);

impl Backoff {
    /// The upper bound of the wait before retry number `attempt` (1 for the first retry).
    pub fn cap(&self, attempt: u32) -> Duration {
        let cap = self.max.min(DAY);
        if attempt >= 32 {
            return cap;
        }
        self.base
            .checked_mul(1u32 << attempt)
            .map_or(cap, |d| d.min(cap))
    }

    /// A full-jitter wait before retry number `attempt`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let cap = self.cap(attempt).as_millis() as u64;
        if cap == 0 {
            return Duration::ZERO;
        }
        Duration::from_millis(fastrand::u64(0..cap))
    }
}

/// Which whole-request outcomes are retried (B.11): transport errors and every non-2xx status,
/// except answers that can never change (an index that already exists is handled by the caller).
pub fn is_retriable(error: &CallError) -> bool {
    match error {
        CallError::Transport(_) => true,
        CallError::Status { .. } => true,
        CallError::Body(_) => false,
    }
}

/// Runs `op` up to `max_retries + 1` times with the backoff between attempts; the last error is
/// returned as "Failed to {what} due to '{e}' after {n} attempt(s)".
pub async fn call_with_retries<T, F, Fut>(
    what: &str,
    backoff: &Backoff,
    mut op: F,
) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, CallError>>,
{
    let attempts = backoff.max_retries.saturating_add(1);
    let mut attempt = 0;
    loop {
        attempt += 1;
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if attempt < attempts && is_retriable(&e) => {
                let delay = backoff.delay(attempt);
                tracing::warn!(error = %e, attempt, ?delay, "failed to {what}; retrying");
                tokio::time::sleep(delay).await;
            }
            Err(e) => {
                return Err(format!(
                    "Failed to {what} due to '{e}' after {attempt} attempt(s)"
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn caps_double_from_the_base_and_stop_at_the_limit() {
        let b = Backoff {
            base: Duration::from_millis(100),
            max: DAY,
            max_retries: 5,
        };
        let caps: Vec<u128> = (1..=5).map(|a| b.cap(a).as_millis()).collect();
        assert_eq!(caps, vec![200, 400, 800, 1600, 3200]);
        assert_eq!(b.cap(40), DAY);
        let b = Backoff {
            max: Duration::from_secs(1),
            ..b
        };
        assert_eq!(b.cap(10), Duration::from_secs(1));
        for a in 1..10 {
            assert!(b.delay(a) < b.cap(a));
        }
        let zero = Backoff {
            base: Duration::ZERO,
            ..b
        };
        assert_eq!(zero.delay(3), Duration::ZERO);
    }

    #[tokio::test]
    async fn retries_then_gives_up_after_max_retries_plus_one() {
        let b = Backoff {
            base: Duration::ZERO,
            max: DAY,
            max_retries: 2,
        };
        let calls = AtomicU32::new(0);
        let r: Result<(), String> = call_with_retries("bulk", &b, || {
            calls.fetch_add(1, Ordering::SeqCst);
            async {
                Err(CallError::Status {
                    status: 503,
                    body: String::new(),
                })
            }
        })
        .await;
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert!(r.unwrap_err().ends_with("after 3 attempt(s)"));
        let calls = AtomicU32::new(0);
        let r = call_with_retries("bulk", &b, || {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if n == 0 {
                    Err(CallError::Status {
                        status: 500,
                        body: String::new(),
                    })
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(r, Ok(1));
    }
}
