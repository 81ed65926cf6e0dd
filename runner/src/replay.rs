//! `autodidact agent replay`: the agent's replay benchmark (`autodidact_agent::replay`) as a
//! run folder: `config.json`, `metrics.jsonl` (one line per curve point, written as it is
//! made), `summary.json`, and pictures drawn from the metrics (`held_out.{svg,png}`,
//! `dialogue.{svg,png}`). The variants' databases stay in `work/` for inspection.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use autodidact_agent::featurizer::FeaturizerSpec;
use autodidact_agent::replay::{self, ReplayConfig, ReplayReport, Variant, WaveRecord};
use autodidact_agent::{AgentConfig, AgentError};
use clap::Args;

use crate::atomic;
use crate::errors::{Result, RunnerError};
use crate::plot::{self, Panel, Series};

/// Flags of `autodidact agent replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Folder with train.csv and test.csv (text,label).
    #[arg(long, value_name = "DIR", default_value = "../shared/data/banking77")]
    pub data: PathBuf,
    /// Sentence features: `minilm` (the encoder in --encoder-dir) or `hashed` n-grams.
    #[arg(long, default_value = "minilm", value_parser = ["minilm", "hashed"])]
    pub featurizer: String,
    /// The MiniLM model folder.
    #[arg(long, value_name = "DIR", default_value = "../shared/data/minilm")]
    pub encoder_dir: PathBuf,
    /// The agent's configuration (TOML, docs/agent.md) for learning, guard and policy; its
    /// featurizer is replaced by --featurizer.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Waves the intents are cut into (the first bootstraps the agent).
    #[arg(long, default_value_t = 7)]
    pub waves: usize,
    /// Examples an operator gives per new intent.
    #[arg(long, default_value_t = 5)]
    pub intro: usize,
    /// Customer messages per wave.
    #[arg(long, default_value_t = 1000)]
    pub queries: usize,
    /// Share of customers giving feedback.
    #[arg(long, default_value_t = 0.5)]
    pub feedback_rate: f64,
    /// Share of feedback naming a wrong intent.
    #[arg(long, default_value_t = 0.05)]
    pub noise: f64,
    /// Seed of the stream.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Agents to replay, comma-separated: frozen, feedback, naive, replay, ewc, lwf, joint.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "frozen,feedback,naive,replay,joint"
    )]
    pub variants: Vec<String>,
    /// Replay against the agent served at this URL instead of in-process (start it on a new
    /// --db with --data RUN/work/bootstrap: run once without a server to see the folder).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// With --url: the client token [default: $AUTODIDACT_CLIENT_TOKEN].
    #[arg(long, value_name = "TOKEN")]
    pub client_token: Option<String>,
    /// With --url: the admin token [default: $AUTODIDACT_ADMIN_TOKEN].
    #[arg(long, value_name = "TOKEN")]
    pub admin_token: Option<String>,
    /// The run folder [default: runs/agent-replay-FEATURIZER-seedSEED].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

fn agent_error(e: AgentError) -> RunnerError {
    match e {
        AgentError::Config { .. } | AgentError::Data(_) => RunnerError::Config(e.to_string()),
        other => RunnerError::Failed(other.to_string()),
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| RunnerError::Failed(e.to_string()))
}

/// The protocol the flags describe, checked.
pub fn config_from(a: &ReplayArgs) -> Result<ReplayConfig> {
    let mut agent = match &a.config {
        Some(path) => AgentConfig::from_file(path).map_err(agent_error)?,
        None => AgentConfig::default(),
    };
    agent.featurizer = match a.featurizer.as_str() {
        "hashed" => match agent.featurizer {
            FeaturizerSpec::Hashed { dim } => FeaturizerSpec::Hashed { dim },
            FeaturizerSpec::Minilm { .. } => FeaturizerSpec::Hashed { dim: 4096 },
        },
        _ => FeaturizerSpec::Minilm {
            dir: a.encoder_dir.clone(),
        },
    };
    let names: Vec<String> = if a.url.is_some() {
        vec!["server".to_string()]
    } else {
        a.variants.clone()
    };
    let variants = names
        .iter()
        .map(|v| {
            Variant::parse(v.trim()).ok_or_else(|| {
                RunnerError::Usage(format!(
                    "--variants: unknown variant {v:?} (frozen, feedback, naive, replay, ewc, lwf, joint)"
                ))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    if a.url.is_none() && variants.contains(&Variant::Server) {
        return Err(RunnerError::Usage(
            "--variants: `server` is the agent at --url; give --url or another variant".into(),
        ));
    }
    let config = ReplayConfig {
        data: a.data.clone(),
        waves: a.waves,
        intro: a.intro,
        queries: a.queries,
        feedback_rate: a.feedback_rate,
        noise: a.noise,
        seed: a.seed,
        variants,
        agent,
    };
    config.validate().map_err(agent_error)?;
    for f in ["train.csv", "test.csv"] {
        let p = a.data.join(f);
        if !p.is_file() {
            return Err(RunnerError::Config(format!(
                "--data: {} is missing (the replay needs train.csv and test.csv)",
                p.display()
            )));
        }
    }
    Ok(config)
}

/// Runs the replay into its run folder and prints the summary table.
pub fn replay(a: &ReplayArgs) -> Result<()> {
    let config = config_from(a)?;
    let out = a.out.clone().unwrap_or_else(|| {
        PathBuf::from(format!("runs/agent-replay-{}-seed{}", a.featurizer, a.seed))
    });
    if out.join("summary.json").exists() {
        return Err(RunnerError::Usage(format!(
            "{} holds a finished replay (summary.json); give another --out",
            out.display()
        )));
    }
    atomic::create_dir(&out)?;
    let work = out.join("work");
    atomic::create_dir(&work)?;
    atomic::write_json(&out.join("config.json"), &to_json(&config)?)?;
    let log_path = out.join("metrics.jsonl");
    let mut log = std::fs::File::create(&log_path)
        .map_err(|e| RunnerError::Failed(format!("{}: {e}", log_path.display())))?;
    let mut log_error = None;
    let on_record = |r: &WaveRecord| {
        eprintln!(
            "{:>8} wave {} {:<10} held-out {:5.1} %{}",
            r.variant.as_str(),
            r.wave,
            r.phase,
            100.0 * r.held_out.all,
            r.online_accuracy
                .map(|o| format!(", online {:5.1} %", 100.0 * o))
                .unwrap_or_default()
        );
        let line = serde_json::to_string(r).unwrap_or_default();
        if let Err(e) = writeln!(log, "{line}") {
            log_error.get_or_insert(e);
        }
    };
    let report = match &a.url {
        None => replay::run_blocking(&config, &work, on_record),
        Some(url) => {
            let token = |given: &Option<String>, var: &str, flag: &str| {
                given
                    .clone()
                    .or_else(|| std::env::var(var).ok())
                    .ok_or_else(|| RunnerError::Usage(format!("--url needs {flag} (or {var})")))
            };
            let client = token(&a.client_token, "AUTODIDACT_CLIENT_TOKEN", "--client-token")?;
            let admin = token(&a.admin_token, "AUTODIDACT_ADMIN_TOKEN", "--admin-token")?;
            replay::run_remote_blocking(&config, &work, url, &client, &admin, on_record)
        }
    }
    .map_err(agent_error)?;
    if let Some(e) = log_error {
        return Err(RunnerError::Failed(format!("{}: {e}", log_path.display())));
    }
    log.sync_all()
        .map_err(|e| RunnerError::Failed(format!("{}: {e}", log_path.display())))?;
    let summary = summary_json(&config, &report)?;
    atomic::write_json(&out.join("summary.json"), &summary)?;
    draw(&out, &report.records)?;
    outln!("{}", table(&config, &report));
    outln!("Run folder: {}", out.display());
    Ok(())
}

/// `summary.json`: every variant's figures and, for the configured agent (`replay` when
/// replayed, else the first guarded variant), the targets.
fn summary_json(config: &ReplayConfig, report: &ReplayReport) -> Result<serde_json::Value> {
    let (all, drop, recall) = replay::targets(&config.agent.featurizer);
    let main = report
        .summaries
        .iter()
        .find(|s| s.variant == Variant::Replay)
        .or_else(|| report.summaries.first());
    let targets = main.map(|s| {
        serde_json::json!({
            "variant": s.variant,
            "final_all": {"target": all, "value": s.final_all, "met": s.final_all >= all},
            "first_wave_drop_points": {"target": drop, "value": s.first_wave_drop, "met": s.first_wave_drop <= drop},
            "new_intent_recall": {"target": recall, "value": s.new_intent_recall, "met": s.new_intent_recall >= recall},
            "policy_beats_best_fixed": {
                "value": s.mean_reward,
                "best_fixed": s.best_fixed.as_ref().map(|b| b.mean_reward),
                "met": s.best_fixed.as_ref().is_some_and(|b| s.mean_reward > b.mean_reward),
            },
            "policy_beats_thresholds_fixed_in_advance": s.fixed_in_advance.as_ref().map(|f| serde_json::json!({
                "value": f.policy_later_reward,
                "fixed_in_advance": f.later_reward,
                "met": f.policy_later_reward > f.later_reward,
            })),
        })
    });
    Ok(serde_json::json!({
        "variants": to_json(&report.summaries)?,
        "targets": targets,
        "waves": report.waves,
        "embed_seconds": report.embed_seconds,
    }))
}

fn table(config: &ReplayConfig, report: &ReplayReport) -> String {
    let mut s = format!(
        "Replay on {} ({} waves, {} messages per wave, feedback {:.0} %, noise {:.0} %, seed {}):\n",
        config.data.display(),
        config.waves,
        config.queries,
        100.0 * config.feedback_rate,
        100.0 * config.noise,
        config.seed
    );
    s.push_str("variant   final all  first wave  drop (pts)  new-intent recall  online  hand-off  reward  best fixed  consolidations (refused)\n");
    for v in &report.summaries {
        s.push_str(&format!(
            "{:<9} {:>9.1} {:>11.1} {:>11.1} {:>18.1} {:>7.1} {:>9.1} {:>7.3} {:>11} {:>10} ({})\n",
            v.variant.as_str(),
            100.0 * v.final_all,
            100.0 * v.final_first_wave,
            v.first_wave_drop,
            100.0 * v.new_intent_recall,
            100.0 * v.online_accuracy,
            100.0 * v.handoff_rate,
            v.mean_reward,
            v.best_fixed
                .as_ref()
                .map_or("-".into(), |b| format!("{:.3}", b.mean_reward)),
            v.consolidations,
            v.refused
        ));
    }
    s
}

/// One series per variant of `value(record)` over the records that have it, x = wave.
fn series(
    records: &[WaveRecord],
    phase: &str,
    value: impl Fn(&WaveRecord) -> Option<f64>,
) -> Vec<Series> {
    let mut out: Vec<Series> = Vec::new();
    for r in records.iter().filter(|r| r.phase == phase) {
        let Some(y) = value(r) else { continue };
        let label = r.variant.as_str();
        match out.iter_mut().find(|s| s.label == label) {
            Some(s) => s.points.push((r.wave as f64, y)),
            None => out.push(Series {
                label: label.to_string(),
                points: vec![(r.wave as f64, y)],
                band: Vec::new(),
            }),
        }
    }
    out
}

fn panel(title: &str, y_label: &str, series: Vec<Series>) -> Panel {
    Panel {
        title: title.into(),
        x_label: "wave".into(),
        y_label: y_label.into(),
        series,
    }
}

/// The pictures of a replay, from its records (also what `metrics.jsonl` holds).
pub fn draw(out: &Path, records: &[WaveRecord]) -> Result<()> {
    let pct = |v: f64| Some(100.0 * v);
    let held = [
        panel(
            "held-out accuracy, every intent so far",
            "accuracy (%)",
            series(records, "end", |r| pct(r.held_out.all)),
        ),
        panel(
            "held-out accuracy, the first wave's intents",
            "accuracy (%)",
            series(records, "end", |r| {
                r.held_out.by_wave.first().copied().and_then(pct)
            }),
        ),
        panel(
            "held-out accuracy, the wave's new intents (end of wave)",
            "accuracy (%)",
            series(records, "end", |r| {
                r.held_out.by_wave.get(r.wave).copied().and_then(pct)
            }),
        ),
        panel(
            "new intents from 5 examples, before any message",
            "recall (%)",
            series(records, "introduced", |r| {
                r.held_out.by_wave.get(r.wave).copied().and_then(pct)
            }),
        ),
    ];
    let dialogue = [
        panel(
            "online accuracy (before feedback)",
            "accuracy (%)",
            series(records, "end", |r| r.online_accuracy.and_then(pct)),
        ),
        panel(
            "hand-off rate",
            "hand-offs (%)",
            series(records, "end", |r| r.handoff_rate.and_then(pct)),
        ),
        panel(
            "mean reward per message",
            "reward",
            series(records, "end", |r| r.mean_reward),
        ),
    ];
    for ext in ["svg", "png"] {
        plot::write_plot(
            &out.join(format!("held_out.{ext}")),
            "Agent replay: held-out accuracy",
            &held,
        )?;
        plot::write_plot(
            &out.join(format!("dialogue.{ext}")),
            "Agent replay: dialogue",
            &dialogue,
        )?;
    }
    Ok(())
}

/// Whether `dir` is a finished replay (its `summary.json` has the replay's `variants`).
pub fn is_replay(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("summary.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|v| v.get("variants").is_some() && v.get("waves").is_some())
}

/// Draws a replay folder's pictures again from its `metrics.jsonl`.
pub fn redraw(out: &Path) -> Result<usize> {
    let path = out.join("metrics.jsonl");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| RunnerError::Failed(format!("{}: {e}", path.display())))?;
    let records = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str::<WaveRecord>(l)
                .map_err(|e| RunnerError::Failed(format!("{} line {}: {e}", path.display(), i + 1)))
        })
        .collect::<Result<Vec<_>>>()?;
    draw(out, &records)?;
    Ok(records.len())
}
