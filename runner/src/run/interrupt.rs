//! Ctrl-C and SIGTERM: the first signal asks every run to stop after its current step with a
//! checkpoint; a second one exits at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Installs the Ctrl-C / SIGTERM handler (once per process): the first signal stops every run
/// after its current step with a checkpoint; a second one exits at once.
pub fn install_interrupt_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let installed = ctrlc::set_handler(|| {
            if INTERRUPTED.swap(true, Ordering::SeqCst) {
                eprintln!("autodidact: interrupted again: exiting without a checkpoint");
                std::process::exit(1);
            }
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
