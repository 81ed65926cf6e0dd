//! Results of the metric-based family on real data, and its speed.
//!
//! ```text
//! cargo run --release -p autodidact-metric --example metric_results -- speed [--train N] [--eval M]
//! cargo run --release -p autodidact-metric --example metric_results -- omniglot --algo proto-net \
//!     [--iterations N] [--shots K] [--train-ways W] [--set key=value]... [--eval-ways 5,20]
//! cargo run --release -p autodidact-metric --example metric_results -- intents --algo proto-net \
//!     [--iterations N] [--shots K] [--set key=value]... [--eval-ways 5,10]
//! ```
//!
//! `omniglot` reads `../shared/data/omniglot/images_background_small{1,2}.zip` and `intents`
//! reads `../shared/data/banking77/{train,test}.csv` (relative to the working directory;
//! `--data DIR` points elsewhere). Each trains one model for the given shot count, then
//! evaluates it on 1,000 test episodes of every `--eval-ways`.

use std::path::Path;
use std::time::Instant;

use autodidact_core::Hyperparams as _;
use autodidact_core::{
    Algorithm, Config, EnvSpec, Registry, Seed, Split, Targets, Task, TaskDistribution, Tensor,
};
use autodidact_metric::hyperparams::resolve;
use autodidact_metric::{Method, MetricLearner};
use rand::Rng as _;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

struct Args {
    cmd: String,
    algo: String,
    iterations: u64,
    shots: usize,
    train_ways: usize,
    eval_ways: Vec<usize>,
    sets: Vec<(String, String)>,
    env_sets: Vec<(String, String)>,
    data: Option<String>,
    seed: u64,
    train_n: usize,
    eval_n: usize,
    eval_episodes: usize,
}

fn parse() -> Res<Args> {
    let mut it = std::env::args().skip(1);
    let mut a = Args {
        cmd: it.next().unwrap_or_default(),
        algo: "proto-net".into(),
        iterations: 2000,
        shots: 1,
        train_ways: 0,
        eval_ways: Vec::new(),
        sets: Vec::new(),
        env_sets: Vec::new(),
        data: None,
        seed: 0,
        train_n: 10,
        eval_n: 100,
        eval_episodes: 1000,
    };
    while let Some(flag) = it.next() {
        let mut val = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--algo" => a.algo = val()?,
            "--iterations" => a.iterations = val()?.parse()?,
            "--shots" => a.shots = val()?.parse()?,
            "--train-ways" => a.train_ways = val()?.parse()?,
            "--eval-ways" => {
                a.eval_ways = val()?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?
            }
            "--set" | "--env" => {
                let kv = val()?;
                let (k, v) = kv.split_once('=').ok_or("expected key=value")?;
                let pair = (k.to_string(), v.to_string());
                if flag == "--set" {
                    a.sets.push(pair)
                } else {
                    a.env_sets.push(pair)
                }
            }
            "--data" => a.data = Some(val()?),
            "--seed" => a.seed = val()?.parse()?,
            "--train" => a.train_n = val()?.parse()?,
            "--eval" => a.eval_n = val()?.parse()?,
            "--eval-episodes" => a.eval_episodes = val()?.parse()?,
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    Ok(a)
}

/// A TOML value from a command-line string (integer, float, bool, list or string).
fn value(s: &str) -> toml::Value {
    if let Ok(i) = s.parse::<i64>() {
        return toml::Value::Integer(i);
    }
    if let Ok(f) = s.parse::<f64>() {
        return toml::Value::Float(f);
    }
    if let Ok(b) = s.parse::<bool>() {
        return toml::Value::Boolean(b);
    }
    if s.starts_with('[') {
        if let Ok(t) = toml::from_str::<toml::Table>(&format!("v = {s}")) {
            if let Some(v) = t.get("v") {
                return v.clone();
            }
        }
    }
    toml::Value::String(s.to_string())
}

fn method(name: &str) -> Res<Method> {
    Ok(match name {
        "proto-net" => Method::Proto,
        "matching-net" => Method::Matching,
        "relation-net" => Method::Relation,
        other => return Err(format!("unknown algorithm {other}").into()),
    })
}

fn load_avg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn env_spec(reg: &Registry, name: &str, cfg: Config) -> Res<EnvSpec> {
    let entry = reg.env(name).ok_or("environment not registered")?;
    let mut config = (entry.default_config)();
    config.extend(cfg);
    Ok(EnvSpec { entry, config })
}

fn train_and_eval(a: &Args, env: &str, data: Vec<String>, default_eval: &[usize]) -> Res<()> {
    for d in &data {
        if !Path::new(d).exists() {
            return Err(format!(
                "{d} is missing: the {env} results need the real data (see ../shared/data/README.md; --data DIR points elsewhere)"
            )
            .into());
        }
    }
    autodidact_envs::link();
    let reg = Registry::from_inventory()?;
    let m = method(&a.algo)?;
    let mut env_cfg = Config::new();
    env_cfg.insert(
        "data_dir".into(),
        toml::Value::Array(
            data.iter()
                .map(|d| toml::Value::String(d.clone()))
                .collect(),
        ),
    );
    env_cfg.insert("shots".into(), toml::Value::Integer(a.shots as i64));
    for (k, v) in &a.env_sets {
        env_cfg.insert(k.clone(), value(v));
    }
    let eval_ways = if a.eval_ways.is_empty() {
        default_eval.to_vec()
    } else {
        a.eval_ways.clone()
    };
    env_cfg.insert("ways".into(), toml::Value::Integer(eval_ways[0] as i64));
    let mut cfg = Config::new();
    cfg.insert(
        "meta_iterations".into(),
        toml::Value::Integer(a.iterations as i64),
    );
    cfg.insert(
        "eval_episodes".into(),
        toml::Value::Integer(a.eval_episodes as i64),
    );
    if a.train_ways > 0 {
        cfg.insert(
            "train_ways".into(),
            toml::Value::Integer(a.train_ways as i64),
        );
    }
    for (k, v) in &a.sets {
        cfg.insert(k.clone(), value(v));
    }
    let seed = Seed(a.seed);
    let spec = env_spec(&reg, env, env_cfg.clone())?;
    println!("env {env}: {:?}", spec.config);
    println!("{} hyperparameters: {:?}", a.algo, resolve(&a.algo, &cfg)?);
    let t0 = Instant::now();
    let mut learner = MetricLearner::new(m, &cfg, &spec, seed)?;
    println!(
        "built in {:.1} s; {} parameters; load {}",
        t0.elapsed().as_secs_f64(),
        learner.params().num_scalars(),
        load_avg()
    );
    let t0 = Instant::now();
    while learner.steps_done() < learner.total_steps() {
        let metrics = learner.train_step()?;
        if !metrics.is_empty() {
            let s: Vec<String> = metrics.iter().map(|(k, v)| format!("{k}={v:.4}")).collect();
            println!(
                "[{:>6}] {:>7.1}s {}",
                learner.steps_done(),
                t0.elapsed().as_secs_f64(),
                s.join(" ")
            );
        }
    }
    let train_s = t0.elapsed().as_secs_f64();
    println!(
        "trained {} episodes in {:.1} s ({:.2} episodes/s), load {}",
        learner.steps_done(),
        train_s,
        learner.steps_done() as f64 / train_s,
        load_avg()
    );
    for &w in &eval_ways {
        let mut c = env_cfg.clone();
        c.insert("ways".into(), toml::Value::Integer(w as i64));
        let inst = env_spec(&reg, env, c)?.instantiate(seed.derive("env"))?;
        let t1 = Instant::now();
        let r = learner.evaluate(Some(&inst))?;
        let acc = r["query_accuracy"];
        let ci = r["query_accuracy_ci95"];
        let mut line = format!(
            "RESULT env={env} algo={} ways={w} shots={} test_episodes={} accuracy={:.2}% ±{:.2}",
            a.algo,
            a.shots,
            r["eval_episodes"],
            100.0 * acc,
            100.0 * ci
        );
        if let (Some(b), Some(bci)) = (r.get("baseline_accuracy"), r.get("baseline_accuracy_ci95"))
        {
            line += &format!(" baseline={:.2}% ±{:.2}", 100.0 * b, 100.0 * bci);
        }
        if let (Some(d), Some(dci)) = (
            r.get("gain_over_baseline"),
            r.get("gain_over_baseline_ci95"),
        ) {
            line += &format!(" paired_gain={:+.2}% ±{:.2}", 100.0 * d, 100.0 * dci);
        }
        line += &format!(
            " train_iterations={} train_s={:.0} eval_s={:.1} load={}",
            learner.steps_done(),
            train_s,
            t1.elapsed().as_secs_f64(),
            load_avg()
        );
        println!("{line}");
    }
    Ok(())
}

/// A random episode of `ways × (shots + queries)` 28×28 images.
fn random_task(ways: usize, shots: usize, queries: usize, rng: &mut autodidact_core::Rng) -> Task {
    let mk = |n: usize, rng: &mut autodidact_core::Rng| {
        Tensor::from_shape_fn(ndarray::IxDyn(&[n, 1, 28, 28]), |_| rng.random::<f32>())
    };
    let labels = |k: usize| (0..ways).flat_map(|c| std::iter::repeat_n(c, k)).collect();
    Task {
        support_x: mk(ways * shots, rng),
        support_y: Targets::Labels(labels(shots)),
        query_x: mk(ways * queries, rng),
        query_y: Targets::Labels(labels(queries)),
    }
}

/// Forward FLOPs of Conv4 (64 filters, 28×28×1) per image: 2 × the multiply-adds of the
/// four 3×3 convolutions.
fn conv4_forward_flops() -> f64 {
    let mut macs = 0.0;
    let (mut size, mut c) = (28usize, 1usize);
    for _ in 0..4 {
        macs += (size * size * 64 * c * 9) as f64;
        size /= 2;
        c = 64;
    }
    2.0 * macs
}

fn speed(a: &Args) -> Res<()> {
    use autodidact_metric::hyperparams::MetricParams;
    struct Fixed(Vec<usize>);
    impl TaskDistribution for Fixed {
        fn input_shape(&self) -> Vec<usize> {
            self.0.clone()
        }
        fn kind(&self) -> autodidact_core::TaskKind {
            autodidact_core::TaskKind::Classification { ways: 5 }
        }
        fn sample(
            &self,
            _: Split,
            rng: &mut autodidact_core::Rng,
        ) -> autodidact_core::Result<Task> {
            Ok(random_task(5, 1, 15, rng))
        }
    }
    let hp = MetricParams {
        meta_iterations: a.train_n as u64,
        val_every: 0,
        ..MetricParams::default()
    };
    let mut l = MetricLearner::with_distributions(
        Method::Proto,
        hp.check().unwrap(),
        Box::new(Fixed(vec![1, 28, 28])),
        None,
        Seed(a.seed),
    )?;
    let mut rng = Seed(a.seed).rng("speed");
    let flops = conv4_forward_flops();
    println!("conv4 forward: {:.2} MFLOP per image", flops / 1e6);
    // Training: 20-way 5-shot 15-query (400 images), forward + backward (3x forward FLOPs).
    let train_tasks: Vec<Task> = (0..a.train_n.max(1) + 2)
        .map(|_| random_task(20, 5, 15, &mut rng))
        .collect();
    for t in &train_tasks[..2] {
        l.train_on(t)?; // warm-up (buffer pool, caches)
    }
    println!("load before train: {}", load_avg());
    let t0 = Instant::now();
    for t in &train_tasks[2..] {
        l.train_on(t)?;
    }
    let s = t0.elapsed().as_secs_f64();
    let n = (train_tasks.len() - 2) as f64;
    let gf = n * 400.0 * 3.0 * flops / s / 1e9;
    println!(
        "SPEED ours train 20-way 5-shot 15-query: {:.3} episodes/s ({:.1} ms/episode), {:.1} GFLOP/s, load {}",
        n / s,
        1e3 * s / n,
        gf,
        load_avg()
    );
    // Evaluation: 5-way 1-shot 15-query (80 images), forward only, batch norm in eval mode.
    let eval_tasks: Vec<Task> = (0..a.eval_n.max(1) + 5)
        .map(|_| random_task(5, 1, 15, &mut rng))
        .collect();
    let model = l.model().clone();
    let params = l.params().clone();
    let stats = l.bn_stats().to_vec();
    for t in &eval_tasks[..5] {
        autodidact_metric::evaluate::episode_accuracy(&model, &params, &stats, t)?;
    }
    println!("load before eval: {}", load_avg());
    let t0 = Instant::now();
    for t in &eval_tasks[5..] {
        autodidact_metric::evaluate::episode_accuracy(&model, &params, &stats, t)?;
    }
    let s = t0.elapsed().as_secs_f64();
    let n = (eval_tasks.len() - 5) as f64;
    let gf = n * 80.0 * flops / s / 1e9;
    println!(
        "SPEED ours eval 5-way 1-shot 15-query: {:.2} episodes/s ({:.2} ms/episode), {:.1} GFLOP/s, load {}",
        n / s,
        1e3 * s / n,
        gf,
        load_avg()
    );
    Ok(())
}

fn main() {
    let run = || -> Res<()> {
        let a = parse()?;
        match a.cmd.as_str() {
            "speed" => speed(&a),
            "omniglot" => {
                let dir = a.data.clone().unwrap_or("../shared/data/omniglot".into());
                let files = vec![
                    format!("{dir}/images_background_small1.zip"),
                    format!("{dir}/images_background_small2.zip"),
                ];
                train_and_eval(&a, "omniglot", files, &[5, 20])
            }
            "intents" => {
                let dir = a.data.clone().unwrap_or("../shared/data/banking77".into());
                let files = vec![format!("{dir}/train.csv"), format!("{dir}/test.csv")];
                train_and_eval(&a, "intents", files, &[5, 10])
            }
            _ => Err(
                "usage: metric_results speed|omniglot|intents [flags] (see the file's doc)".into(),
            ),
        }
    };
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
