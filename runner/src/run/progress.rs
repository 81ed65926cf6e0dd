//! Progress of a run: a bar on a terminal, a line at checkpoints in a batch job's log, or
//! nothing.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use autodidact_core::Metrics;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use super::Session;
use crate::table::fmt_num;

/// How a run reports progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// A progress bar on stderr (iteration, rate, ETA, latest metric).
    Bar,
    /// A plain line on stderr at checkpoints (for logs of batch jobs).
    Lines,
    /// Nothing.
    Silent,
}

impl Progress {
    /// A bar on a terminal, lines otherwise.
    pub fn auto() -> Progress {
        if std::io::stderr().is_terminal() {
            Progress::Bar
        } else {
            Progress::Lines
        }
    }
}

/// Reports progress.
pub(crate) enum Reporter {
    Bar(ProgressBar),
    Lines { last: Option<Instant> },
    Silent,
}

impl Reporter {
    pub(crate) fn new(progress: Progress, label: &str, done: u64, total: u64) -> Reporter {
        match progress {
            Progress::Bar => {
                let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
                if let Ok(style) = ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {pos}/{len} it  {rate}  ETA {eta}  {msg}",
                ) {
                    let style = style
                        .with_key("rate", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                            let _ = write!(w, "{} it/s", fmt_num(s.per_sec()));
                        })
                        .progress_chars("=> ");
                    bar.set_style(style);
                }
                bar.set_prefix(label.to_string());
                bar.set_position(done);
                bar.reset_eta();
                Reporter::Bar(bar)
            }
            Progress::Lines => Reporter::Lines { last: None },
            Progress::Silent => Reporter::Silent,
        }
    }

    pub(crate) fn step(&mut self, step: u64, headline: &str, metrics: &Metrics) {
        if let Reporter::Bar(bar) = self {
            bar.set_position(step);
            if let Some(v) = metrics.get(headline) {
                bar.set_message(format!("{headline} {}", fmt_num(*v)));
            }
        }
    }

    /// A line at a checkpoint (at most one every five seconds, and the first).
    pub(crate) fn checkpoint(&mut self, session: &Session, headline: &str) {
        if let Reporter::Lines { last } = self {
            if last.is_some_and(|t| t.elapsed() < Duration::from_secs(5)) {
                return;
            }
            *last = Some(Instant::now());
            let step = session.alg.steps_done();
            let total = session.alg.total_steps().max(1);
            let secs = session.train_time.as_secs_f64();
            let rate = if secs > 0.0 {
                (step - session.start_step) as f64 / secs
            } else {
                0.0
            };
            let eta = if rate > 0.0 {
                format!(
                    ", ETA {}",
                    fmt_duration((total.saturating_sub(step)) as f64 / rate)
                )
            } else {
                String::new()
            };
            let metric = session
                .last_metrics
                .get(headline)
                .map_or(String::new(), |v| format!(", {headline} {}", fmt_num(*v)));
            eprintln!(
                "[{}] iteration {step}/{total} ({:.0}%){metric}, {} it/s{eta}",
                session.dir.display(),
                100.0 * step as f64 / total as f64,
                fmt_num(rate)
            );
        }
    }

    pub(crate) fn finish(&self) {
        if let Reporter::Bar(bar) = self {
            bar.finish();
        }
    }

    pub(crate) fn abandon(&self) {
        if let Reporter::Bar(bar) = self {
            bar.abandon();
        }
    }
}

/// `1h02m`, `3m05s`, `12s`.
fn fmt_duration(secs: f64) -> String {
    let s = secs.round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(fmt_duration(5.2), "5s");
        assert_eq!(fmt_duration(185.0), "3m05s");
        assert_eq!(fmt_duration(3720.0), "1h02m");
    }
}
