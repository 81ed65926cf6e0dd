//! Running the consolidation's work at a lower OS priority than the request threads.
//!
//! A consolidation trains for seconds to minutes on the same cores that answer requests;
//! at the same priority the scheduler splits the cores evenly and request latency doubles
//! while it runs. Its work runs on a thread of its own whose nice value is
//! `consolidation.nice`, so the request threads (nice 0) get the cores first and training
//! takes what is left.

use crate::error::{AgentError, Result};

/// The name of the thread a consolidation's work runs on.
pub(crate) const THREAD_NAME: &str = "autodidact-consolidation";

/// Runs `f` on a new thread at nice value `nice` and awaits its result. The nice value is
/// never lowered below the process's own: only a privileged process may raise a priority.
pub(crate) async fn run_niced<R, F>(nice: i32, f: F) -> Result<R>
where
    R: Send + 'static,
    F: FnOnce() -> R + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(THREAD_NAME.into())
        .spawn(move || {
            if let Err(e) = lower_this_thread(nice) {
                // Still worth running at the normal priority: a consolidation refused for
                // this would leave the agent unable to learn.
                eprintln!("autodidact agent: {e}");
            }
            // The receiver is gone only when the awaiting task was cancelled.
            let _ = tx.send(f());
        })
        .map_err(|e| AgentError::Internal(format!("cannot start the consolidation thread: {e}")))?;
    rx.await
        .map_err(|_| AgentError::Internal("the consolidation thread panicked".into()))
}

/// Sets the calling thread's nice value to `nice`, or leaves it when it is already as low a
/// priority or lower.
#[cfg(target_os = "linux")]
pub(crate) fn lower_this_thread(nice: i32) -> Result<()> {
    if this_thread_nice().is_some_and(|now| now >= nice) {
        return Ok(());
    }
    // On Linux `PRIO_PROCESS` with a thread id sets that one thread's nice value (threads
    // are scheduled as tasks of their own), so the request threads keep theirs.
    // SAFETY: `gettid` has no preconditions; `setpriority` reads only its integer arguments.
    #[allow(unsafe_code)]
    let rc = unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice)
    };
    if rc != 0 {
        return Err(AgentError::Internal(format!(
            "cannot set the consolidation thread's nice value to {nice} (consolidation.nice): {}",
            std::io::Error::last_os_error()
        )));
    }
    Ok(())
}

/// Elsewhere the consolidation runs at the normal priority.
#[cfg(not(target_os = "linux"))]
pub(crate) fn lower_this_thread(_nice: i32) -> Result<()> {
    Ok(())
}

/// The calling thread's nice value as the kernel reports it (field 19 of
/// `/proc/thread-self/stat`); `None` where there is no such file.
pub(crate) fn this_thread_nice() -> Option<i32> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count from after it,
    // where field 3 begins.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19 - 3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_work_runs_at_the_nice_value_asked_for() {
        // Tests may themselves run niced (`nice -n 10 cargo test`): the thread keeps the
        // larger of the two.
        let base = this_thread_nice().unwrap_or(0);
        for nice in [15, 19] {
            let (seen, name) = run_niced(nice, || {
                (
                    this_thread_nice(),
                    std::thread::current().name().map(str::to_string),
                )
            })
            .await
            .unwrap();
            if cfg!(target_os = "linux") {
                assert_eq!(seen, Some(nice.max(base)));
            }
            assert_eq!(name.as_deref(), Some(THREAD_NAME));
        }
        // The caller's own thread is left as it was.
        assert_eq!(this_thread_nice().unwrap_or(0), base);
    }
}
