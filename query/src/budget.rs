//! A time budget for one answer. The server gives each heavy request a deadline on the thread
//! that answers it; the walks (trace, path, taint, exposure) ask [`expired`] between steps and,
//! once it is, stop as they do at their `max_txs` cap: the answer is partial and `truncated`. On
//! the command line there is no deadline and [`expired`] is always false.

use std::cell::Cell;
use std::time::Instant;

thread_local! {
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
    static HIT: Cell<bool> = const { Cell::new(false) };
}

/// Runs `work` on this thread with `deadline`; returns its result and whether a walk stopped at
/// the deadline.
pub fn within<T>(deadline: Option<Instant>, work: impl FnOnce() -> T) -> (T, bool) {
    let before = DEADLINE.with(|d| d.replace(deadline));
    HIT.with(|h| h.set(false));
    let out = work();
    DEADLINE.with(|d| d.set(before));
    (out, HIT.with(|h| h.replace(false)))
}

/// Whether this thread's deadline has passed (then remembered as hit).
pub fn expired() -> bool {
    let passed = DEADLINE.with(|d| d.get()).is_some_and(|deadline| Instant::now() >= deadline);
    if passed {
        HIT.with(|h| h.set(true));
    }
    passed
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn no_deadline_never_expires_and_a_past_one_is_reported_as_hit() {
        assert!(!expired());
        let ((), hit) = within(None, || assert!(!expired()));
        assert!(!hit);
        let past = Instant::now() - Duration::from_secs(1);
        let (seen, hit) = within(Some(past), expired);
        assert!(seen && hit);
        // A deadline not reached, or never asked about, is no hit.
        let future = Instant::now() + Duration::from_secs(3600);
        assert_eq!(within(Some(future), expired), (false, false));
        assert_eq!(within(Some(past), || 7), (7, false));
        // The deadline ends with `within`.
        assert!(!expired());
    }
}
