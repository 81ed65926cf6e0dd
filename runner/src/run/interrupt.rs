//! Ctrl-C and SIGTERM: the first signal asks every run to stop after its current step with a
//! checkpoint; a second one, at least [`REPEAT_AFTER`] later, exits at once.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Once, OnceLock};
use std::time::{Duration, Instant};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// Milliseconds from [`epoch`] to the first signal.
static FIRST_SIGNAL_MS: AtomicU64 = AtomicU64::new(0);

/// How long after the first signal a second one counts as "exit at once". GNU `timeout` (and
/// some batch systems) signal both the process and its group, so one SIGTERM can arrive twice
/// within milliseconds; that must not cost the run its checkpoint.
pub const REPEAT_AFTER: Duration = Duration::from_secs(1);

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ms() -> u64 {
    u64::try_from(epoch().elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Installs the Ctrl-C / SIGTERM handler (once per process): the first signal stops every run
/// after its current step with a checkpoint; a second one at least [`REPEAT_AFTER`] later
/// exits at once; one sooner is taken as the same signal delivered twice.
pub fn install_interrupt_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        epoch();
        let installed = ctrlc::set_handler(|| {
            let now = now_ms();
            if INTERRUPTED.swap(true, Ordering::SeqCst) {
                let first = FIRST_SIGNAL_MS.load(Ordering::SeqCst);
                let threshold = u64::try_from(REPEAT_AFTER.as_millis()).unwrap_or(u64::MAX);
                if now.saturating_sub(first) < threshold {
                    return;
                }
                eprintln!("autodidact: interrupted again: exiting without a checkpoint");
                std::process::exit(1);
            }
            FIRST_SIGNAL_MS.store(now, Ordering::SeqCst);
            eprintln!(
                "\nautodidact: stopping after the current step (interrupt again to exit at once)"
            );
        });
        if let Err(e) = installed {
            eprintln!("autodidact: warning: cannot catch Ctrl-C: {e}");
        }
    });
}

/// Whether Ctrl-C or SIGTERM was received.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}
