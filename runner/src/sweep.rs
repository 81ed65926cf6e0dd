//! `autodidact sweep`: a grid of configurations × seeds, run in parallel on this machine
//! (`--jobs`), or one share of it (`--shard I/N`) so the array jobs of a cluster scheduler
//! spread one sweep over many machines.
//!
//! The jobs are numbered in a fixed order (grid points in the order the `--grid` flags and
//! their values are given, seeds innermost); shard `I/N` takes jobs `I, I+N, I+2N, …`. Every
//! job has its own folder under the sweep's, named after its grid values and seed, so shards
//! writing into one shared folder never collide, and `compare` reads them all. A job whose
//! folder holds a finished run is skipped, one with a checkpoint is resumed: running the same
//! sweep again finishes what a preempted or interrupted one left.

use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use autodidact_core::Registry;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::checkpoint::Checkpoint;
use crate::config::{sanitize, ConfigFile, Override, RunSpec};
use crate::errors::{Result, RunnerError};
use crate::provenance::{self, PluginRecord};
use crate::run::{self, interrupted, panic_message, Progress, RunOptions};
use crate::summary::SUMMARY_FILE;
use crate::table::fmt_num;

/// One `--grid key=v1,v2,…`.
#[derive(Clone, Debug, PartialEq)]
pub struct GridAxis {
    /// The key as written (`env.`-prefixed for environment keys).
    pub key: String,
    /// One override per value.
    pub values: Vec<Override>,
}

impl GridAxis {
    /// Parses `key=v1,v2,…` (commas inside `[…]`, `{…}` or quotes do not split).
    pub fn parse(text: &str) -> Result<GridAxis> {
        let Some((key, values)) = text.split_once('=') else {
            return Err(RunnerError::Usage(format!(
                "`--grid {text}` is not KEY=V1,V2,…"
            )));
        };
        let key = key.trim();
        let values = split_top_level(values)
            .into_iter()
            .map(|v| Override::new(key, v.trim()))
            .collect::<Result<Vec<_>>>()?;
        if values.is_empty() || values.iter().any(|v| v.raw.is_empty()) {
            return Err(RunnerError::Usage(format!(
                "`--grid {text}` has an empty value"
            )));
        }
        Ok(GridAxis {
            key: key.to_string(),
            values,
        })
    }
}

/// Splits at commas outside brackets, braces and quotes.
pub fn split_top_level(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut quote, mut start) = (0i32, None::<char>, 0usize);
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '{') => depth += 1,
            (None, ']' | '}') => depth -= 1,
            (None, ',') if depth == 0 => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out
}

/// Parses seeds: `0..5` (0 to 4), `0..=4`, `7`, or a list `1,3,5`.
pub fn parse_seeds(text: &str) -> Result<Vec<u64>> {
    let bad = || {
        RunnerError::Usage(format!(
            "`--seeds {text}` is not a seed range: use A..B (B excluded), A..=B, N or a list N,M,…"
        ))
    };
    let num = |s: &str| s.trim().parse::<u64>().map_err(|_| bad());
    let seeds: Vec<u64> = if let Some((a, b)) = text.split_once("..=") {
        (num(a)?..=num(b)?).collect()
    } else if let Some((a, b)) = text.split_once("..") {
        (num(a)?..num(b)?).collect()
    } else {
        text.split(',').map(num).collect::<Result<_>>()?
    };
    if seeds.is_empty() {
        return Err(RunnerError::Usage(format!("`--seeds {text}` is empty")));
    }
    if seeds.iter().any(|&s| s > i64::MAX as u64) {
        return Err(RunnerError::Usage(format!(
            "`--seeds {text}`: a seed is above {}",
            i64::MAX
        )));
    }
    let unique: BTreeSet<u64> = seeds.iter().copied().collect();
    if unique.len() != seeds.len() {
        return Err(RunnerError::Usage(format!(
            "`--seeds {text}` repeats a seed"
        )));
    }
    Ok(seeds)
}

/// The environment variables `--shard-from-env` reads the share's index from, in order:
/// Slurm's array task id, then Kubernetes' completion index.
pub const SHARD_INDEX_VARS: [&str; 2] = ["SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX"];

/// `--shard I/N`: the I-th (from 0) of N shares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// Which share, `0..count`.
    pub index: usize,
    /// How many shares.
    pub count: usize,
}

impl Shard {
    /// The whole sweep.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Parses `I/N` with `0 <= I < N`.
    pub fn parse(text: &str) -> Result<Shard> {
        let bad = |why: &str| RunnerError::Usage(format!("`--shard {text}`: {why}"));
        let (i, n) = text
            .split_once('/')
            .ok_or_else(|| bad("use I/N, e.g. 0/4"))?;
        let index: usize = i.trim().parse().map_err(|_| bad("I is not a number"))?;
        let count: usize = n.trim().parse().map_err(|_| bad("N is not a number"))?;
        if count == 0 {
            return Err(bad("N must be at least 1"));
        }
        if index >= count {
            return Err(bad("I counts from 0 and must be below N"));
        }
        Ok(Shard { index, count })
    }

    /// The share a cluster scheduler's array task is, of `count` (`--shard-from-env N`): its
    /// index from `SLURM_ARRAY_TASK_ID` (a Slurm array job) or `JOB_COMPLETION_INDEX` (a
    /// Kubernetes indexed Job), read through `var`. N is given, not read: a rerun of one
    /// failed share (`sbatch --array=3`) is an array of one task, yet still share 3 of 8.
    pub fn from_env(count: &str, var: impl Fn(&str) -> Option<String>) -> Result<Shard> {
        let bad = |why: String| RunnerError::Usage(format!("`--shard-from-env {count}`: {why}"));
        let count: usize = count
            .trim()
            .parse()
            .map_err(|_| bad("N (the number of shares) is not a number".into()))?;
        let found: Vec<(&str, String)> = SHARD_INDEX_VARS
            .iter()
            .filter_map(|&name| var(name).map(|v| (name, v)))
            .collect();
        let (name, value) = match found.as_slice() {
            [] => {
                return Err(bad(format!(
                    "neither {} is set (run it as a Slurm array task or in a Kubernetes \
                     indexed Job, or give --shard I/N)",
                    SHARD_INDEX_VARS.join(" nor ")
                )))
            }
            [one] => one.clone(),
            [(a, x), (b, y), ..] if x != y => {
                return Err(bad(format!(
                    "{a}={x} and {b}={y} disagree; unset one of them or give --shard I/N"
                )))
            }
            [first, ..] => first.clone(),
        };
        let index: usize = value
            .trim()
            .parse()
            .map_err(|_| bad(format!("{name}={value:?} is not a share index")))?;
        Shard::parse(&format!("{index}/{count}"))
            .map_err(|e| bad(format!("{name}={index}: {}", e.one_line())))
    }

    /// Whether job `i` belongs to this share.
    pub fn contains(&self, i: usize) -> bool {
        i % self.count == self.index
    }
}

/// A sweep to run.
#[derive(Clone, Debug)]
pub struct SweepRequest {
    /// Algorithm name.
    pub algorithm: String,
    /// Environment name.
    pub env: String,
    /// A `--config` file.
    pub config: Option<ConfigFile>,
    /// `--set` overrides common to every job.
    pub sets: Vec<Override>,
    /// The grid's axes.
    pub grid: Vec<GridAxis>,
    /// The seeds.
    pub seeds: Vec<u64>,
    /// Runs at once.
    pub jobs: usize,
    /// This machine's share.
    pub shard: Shard,
    /// The sweep's folder.
    pub out: PathBuf,
    /// Steps between checkpoints.
    pub checkpoint_every: Option<u64>,
    /// Steps between evaluations during training.
    pub eval_every: Option<u64>,
    /// Keep every run's best-evaluated state (`--keep-best`).
    pub keep_best: bool,
    /// The plugin files the runs need (recorded in each run folder).
    pub plugins: Vec<PluginRecord>,
    /// Show an overall progress bar (on a terminal) and a line per run.
    pub print: bool,
}

/// One run of the sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    /// Its number in the whole sweep.
    pub index: usize,
    /// Its configuration.
    pub spec: RunSpec,
    /// Its folder.
    pub dir: PathBuf,
}

/// Every job of the sweep (all shards), in order; each configuration checked.
pub fn plan(registry: &Registry, req: &SweepRequest) -> Result<Vec<Job>> {
    let mut points: Vec<Vec<&Override>> = vec![Vec::new()];
    for axis in &req.grid {
        points = points
            .into_iter()
            .flat_map(|p| {
                axis.values.iter().map(move |v| {
                    let mut q = p.clone();
                    q.push(v);
                    q
                })
            })
            .collect();
    }
    let mut jobs = Vec::new();
    let mut names = BTreeSet::new();
    for point in points {
        let mut sets = req.sets.clone();
        sets.extend(point.iter().map(|o| (*o).clone()));
        let mut name = format!("{}-{}", req.algorithm, req.env);
        for o in &point {
            name.push_str(&format!("-{}={}", o.key(), o.raw));
        }
        for &seed in &req.seeds {
            let spec = RunSpec::resolve(
                registry,
                &req.algorithm,
                &req.env,
                req.config.as_ref(),
                &sets,
                seed,
            )?;
            spec.check_trainable()?;
            let index = jobs.len();
            let mut dir_name = sanitize(&format!("{name}-seed{seed}"));
            if !names.insert(dir_name.clone()) {
                dir_name = format!("{dir_name}-{index}");
                names.insert(dir_name.clone());
            }
            jobs.push(Job {
                index,
                spec,
                dir: req.out.join(dir_name),
            });
        }
    }
    Ok(jobs)
}

/// How one job ended.
#[derive(Debug)]
pub enum JobResult {
    /// Trained and evaluated now.
    Done(crate::run::RunOutcome),
    /// Its folder already held a finished run.
    Skipped,
    /// It failed (or was interrupted).
    Failed(RunnerError),
}

/// What a sweep did.
#[derive(Debug)]
pub struct SweepOutcome {
    /// This shard's jobs and how each ended, in job order.
    pub results: Vec<(Job, JobResult)>,
}

fn run_job(registry: &Registry, job: &Job, opts: &RunOptions) -> JobResult {
    if job.dir.join(SUMMARY_FILE).exists() {
        return JobResult::Skipped;
    }
    let attempt = catch_unwind(AssertUnwindSafe(|| -> Result<run::RunOutcome> {
        if run::holds_run(&job.dir) {
            let ckpt = Checkpoint::read(&job.dir)?;
            if ckpt.spec(&job.dir)? != job.spec {
                return Err(RunnerError::Config(format!(
                    "{} holds a run of another configuration; move it away or choose another --out",
                    job.dir.display()
                )));
            }
            crate::resume::resume(registry, &job.dir, opts)
        } else {
            run::start(registry, &job.spec, &job.dir, opts)
        }
    }));
    match attempt {
        Ok(Ok(outcome)) => JobResult::Done(outcome),
        Ok(Err(e)) => JobResult::Failed(e),
        Err(p) => JobResult::Failed(RunnerError::Failed(format!(
            "{} panicked: {}",
            job.spec.algorithm,
            panic_message(p.as_ref())
        ))),
    }
}

/// Runs this shard's jobs, `req.jobs` at a time.
pub fn sweep(registry: &Registry, req: &SweepRequest) -> Result<SweepOutcome> {
    let all = plan(registry, req)?;
    let total_all = all.len();
    let mine: Vec<Job> = all
        .into_iter()
        .filter(|j| req.shard.contains(j.index))
        .collect();
    crate::atomic::create_dir(&req.out)?;
    if req.print {
        outln!(
            "Sweep of {} on {}: {} runs in all; shard {}/{} runs {} of them, {} at a time, in {}",
            req.algorithm,
            req.env,
            total_all,
            req.shard.index,
            req.shard.count,
            mine.len(),
            req.jobs.max(1),
            req.out.display()
        );
    }
    let opts = RunOptions {
        checkpoint_every: req.checkpoint_every,
        stop_after: None,
        eval_every: req.eval_every,
        keep_best: req.keep_best,
        plugins: req.plugins.clone(),
        progress: Progress::Silent,
        print: false,
    };
    let bar = if req.print && Progress::auto() == Progress::Bar {
        let bar =
            ProgressBar::with_draw_target(Some(mine.len() as u64), ProgressDrawTarget::stderr());
        if let Ok(style) =
            ProgressStyle::with_template("sweep [{bar:30}] {pos}/{len} runs  ETA {eta}  {msg}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        Some(bar)
    } else {
        None
    };
    let say = |line: String| match &bar {
        Some(b) => b.println(line),
        None => eprintln!("{line}"),
    };

    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<JobResult>>> =
        Mutex::new((0..mine.len()).map(|_| None).collect());
    let finished = AtomicUsize::new(0);
    let workers = req.jobs.clamp(1, mine.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                if interrupted() {
                    break;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(job) = mine.get(i) else { break };
                let result = run_job(registry, job, &opts);
                let n = finished.fetch_add(1, Ordering::SeqCst) + 1;
                if req.print {
                    let name = job
                        .dir
                        .file_name()
                        .map_or_else(String::new, |f| f.to_string_lossy().into_owned());
                    let line = match &result {
                        JobResult::Done(o) => {
                            let headline = o
                                .final_metrics
                                .iter()
                                .take(3)
                                .map(|(k, v)| format!("{k} {}", fmt_num(*v)))
                                .collect::<Vec<_>>()
                                .join(", ");
                            format!("[{n}/{}] {name}: done ({headline})", mine.len())
                        }
                        JobResult::Skipped => {
                            format!("[{n}/{}] {name}: already finished, skipped", mine.len())
                        }
                        JobResult::Failed(e) => {
                            format!("[{n}/{}] {name}: FAILED: {}", mine.len(), e.one_line())
                        }
                    };
                    say(line);
                }
                if let Some(b) = &bar {
                    b.inc(1);
                }
                if let Ok(mut r) = results.lock() {
                    r[i] = Some(result);
                }
            });
        }
    });
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let results = results.into_inner().unwrap_or_default();
    let results: Vec<(Job, JobResult)> = mine
        .into_iter()
        .zip(results)
        .map(|(job, r)| {
            let r = r.unwrap_or_else(|| {
                JobResult::Failed(RunnerError::Interrupted {
                    dir: job.dir.clone(),
                    plugin_args: provenance::cli_args(&opts.plugins),
                    step: 0,
                    total: 0,
                })
            });
            (job, r)
        })
        .collect();
    let failures: Vec<&RunnerError> = results
        .iter()
        .filter_map(|(_, r)| match r {
            JobResult::Failed(e) => Some(e),
            _ => None,
        })
        .collect();
    if !failures.is_empty() {
        return Err(RunnerError::SweepFailed {
            failed: failures.len(),
            total: results.len(),
            input: failures.iter().all(|e| e.exit_code() == 2),
            interrupted: failures
                .iter()
                .any(|e| matches!(e, RunnerError::Interrupted { .. })),
        });
    }
    Ok(SweepOutcome { results })
}

/// The default folder of a sweep: `runs/sweep-<algo>-<env>` (the same on every machine, so
/// the shards of one sweep agree).
pub fn default_sweep_dir(algorithm: &str, env: &str) -> PathBuf {
    Path::new("runs").join(sanitize(&format!("sweep-{algorithm}-{env}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds() {
        assert_eq!(parse_seeds("0..5").unwrap(), vec![0, 1, 2, 3, 4]);
        assert_eq!(parse_seeds("2..=3").unwrap(), vec![2, 3]);
        assert_eq!(parse_seeds("7").unwrap(), vec![7]);
        assert_eq!(parse_seeds("1,3,5").unwrap(), vec![1, 3, 5]);
        assert!(parse_seeds("5..5").is_err());
        assert!(parse_seeds("a..b").is_err());
        assert!(parse_seeds("1,1").is_err());
    }

    #[test]
    fn shards_partition_the_jobs() {
        let s = Shard::parse("1/3").unwrap();
        assert_eq!(
            (0..7).filter(|&i| s.contains(i)).collect::<Vec<_>>(),
            vec![1, 4]
        );
        assert!(Shard::parse("3/3").is_err());
        assert!(Shard::parse("0/0").is_err());
        assert!(Shard::parse("x").is_err());
        let covered: usize = (0..3)
            .map(|i| {
                (0..10)
                    .filter(|&j| Shard { index: i, count: 3 }.contains(j))
                    .count()
            })
            .sum();
        assert_eq!(covered, 10);
    }

    #[test]
    fn shards_come_from_slurm_or_kubernetes_variables() {
        fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        }
        let slurm = Shard::from_env("8", env(&[("SLURM_ARRAY_TASK_ID", "3")])).unwrap();
        assert_eq!(slurm, Shard { index: 3, count: 8 });
        let k8s = Shard::from_env("4", env(&[("JOB_COMPLETION_INDEX", "0")])).unwrap();
        assert_eq!(k8s, Shard { index: 0, count: 4 });
        let both = [("SLURM_ARRAY_TASK_ID", "2"), ("JOB_COMPLETION_INDEX", "2")];
        assert_eq!(Shard::from_env("3", env(&both)).unwrap().index, 2);
        let message = |r: Result<Shard>| r.unwrap_err().to_string();
        let none = message(Shard::from_env("8", env(&[])));
        assert!(none.contains("SLURM_ARRAY_TASK_ID"), "{none}");
        assert!(none.contains("JOB_COMPLETION_INDEX"), "{none}");
        let apart = [("SLURM_ARRAY_TASK_ID", "1"), ("JOB_COMPLETION_INDEX", "2")];
        assert!(message(Shard::from_env("3", env(&apart))).contains("disagree"));
        let past = message(Shard::from_env("8", env(&[("SLURM_ARRAY_TASK_ID", "8")])));
        assert!(past.contains("SLURM_ARRAY_TASK_ID=8"), "{past}");
        assert!(
            message(Shard::from_env("8", env(&[("JOB_COMPLETION_INDEX", "x")]))).contains("\"x\"")
        );
        assert!(
            message(Shard::from_env("0", env(&[("JOB_COMPLETION_INDEX", "0")]))).contains("N must")
        );
        assert!(
            message(Shard::from_env("n", env(&[("JOB_COMPLETION_INDEX", "0")])))
                .contains("not a number")
        );
    }

    #[test]
    fn grid_values_split_at_top_level_commas() {
        let g = GridAxis::parse("hidden=[40,40],[80,80]").unwrap();
        assert_eq!(g.values.len(), 2);
        assert_eq!(g.values[0].raw, "[40,40]");
        let g = GridAxis::parse("env.ways=5,20").unwrap();
        assert!(g.values[0].env);
        assert_eq!(split_top_level("a,'b,c',d"), vec!["a", "'b,c'", "d"]);
        assert!(GridAxis::parse("lr").is_err());
        assert!(GridAxis::parse("lr=0.1,").is_err());
    }
}
