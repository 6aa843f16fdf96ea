//! Kill points for crash tests: with `CHAINTRAIL_KILL_AFTER=<event>:<n>` in its environment, the
//! indexer SIGKILLs itself the `n`-th time this run reaches `<event>` (`durable`: a block or a
//! bulk batch made durable; `rolled back`: one block of a reorg taken back out), right after
//! logging it. A kill sent from outside on reading that log line lands some time later, when the
//! indexer may have gone on; this one lands on the point it names. Unset, it does nothing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

static TARGET: OnceLock<Option<(String, u64)>> = OnceLock::new();
static SEEN: AtomicU64 = AtomicU64::new(0);

/// Counts one `event`; on the one `CHAINTRAIL_KILL_AFTER` names, kills this process with SIGKILL
/// (no destructor, flush or log runs after it) and blocks until that lands.
pub fn reached(event: &str) {
    let target = TARGET.get_or_init(|| {
        let spec = std::env::var("CHAINTRAIL_KILL_AFTER").ok()?;
        let (event, n) = spec.rsplit_once(':')?;
        Some((event.to_owned(), n.parse().ok()?))
    });
    let Some((wanted, n)) = target else { return };
    if wanted == event && SEEN.fetch_add(1, Ordering::Relaxed) + 1 == *n {
        let pid = std::process::id().to_string();
        // This thread waits for `kill`, which does not return to it.
        let _ = std::process::Command::new("kill").args(["-KILL", &pid]).status();
        std::process::abort();
    }
}
