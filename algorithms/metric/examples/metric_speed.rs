//! ProtoNet Conv4's speed on synthetic episodes, for the side-by-side comparison with PyTorch
//! (`bench/metric/run.sh`, `bench/metric/pytorch_protonet.py`).
//!
//! ```text
//! cargo run --release -p autodidact-metric --example metric_speed -- [--train N] [--eval M] [--seed S] [--threads T]
//! ```
//!
//! `--threads T` (default 1) runs the timed work inside a pool of `T` worker threads
//! (`autodidact_core::parallel::pool`), where the fused Conv4 kernels cut each batch into
//! pieces that run on every thread (with the same bits as on one).
//!
//! The one part of the former `metric_results` driver that `autodidact sweep` / `compare`
//! cannot do: it times training steps on *identical synthetic episodes* on both sides (random
//! 28×28 images, 20-way 5-shot 15-query training, 5-way 1-shot 15-query evaluation), feeding the
//! learner episodes directly (`MetricLearner::train_on`, `evaluate::episode_accuracy`) and
//! reporting GFLOP/s, so the two frameworks do the same arithmetic. The published accuracy
//! tables are made by `bench/metric/run_results.sh` through the runner.

use std::time::Instant;

use autodidact_core::Hyperparams as _;
use autodidact_core::{Seed, Split, Targets, Task, TaskDistribution, Tensor};
use autodidact_metric::{Method, MetricLearner};
use rand::Rng as _;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

struct Args {
    seed: u64,
    train_n: usize,
    eval_n: usize,
    threads: usize,
}

fn parse() -> Res<Args> {
    let mut a = Args {
        seed: 0,
        train_n: 10,
        eval_n: 100,
        threads: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let val = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--seed" => a.seed = val.parse()?,
            "--train" => a.train_n = val.parse()?,
            "--eval" => a.eval_n = val.parse()?,
            "--threads" => a.threads = val.parse()?,
            other => {
                return Err(format!(
                    "unknown flag {other}: --train N, --eval M, --seed S, --threads T"
                )
                .into())
            }
        }
    }
    Ok(a)
}

fn load_avg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
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
        // The learner's own pool (its `threads` key) as well as the one the timing runs on.
        threads: a.threads,
        ..MetricParams::default()
    };
    let mut l = MetricLearner::with_distributions(
        Method::Proto,
        hp.check()?,
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
    let pool = autodidact_core::parallel::pool(a.threads)?;
    println!("threads: {}", a.threads);
    // Warm-up and timed steps on the same pool thread (buffer pools are per thread).
    let s = pool.install(|| -> Result<f64, String> {
        for t in &train_tasks[..2] {
            l.train_on(t).map_err(|e| e.to_string())?; // warm-up (buffer pool, caches)
        }
        println!("load before train: {}", load_avg());
        let t0 = Instant::now();
        for t in &train_tasks[2..] {
            l.train_on(t).map_err(|e| e.to_string())?;
        }
        Ok(t0.elapsed().as_secs_f64())
    })?;
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
    let s = pool.install(|| -> Result<f64, String> {
        for t in &eval_tasks[..5] {
            autodidact_metric::evaluate::episode_accuracy(&model, &params, &stats, t)
                .map_err(|e| e.to_string())?;
        }
        println!("load before eval: {}", load_avg());
        let t0 = Instant::now();
        for t in &eval_tasks[5..] {
            autodidact_metric::evaluate::episode_accuracy(&model, &params, &stats, t)
                .map_err(|e| e.to_string())?;
        }
        Ok(t0.elapsed().as_secs_f64())
    })?;
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
    if let Err(e) = parse().and_then(|a| speed(&a)) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
