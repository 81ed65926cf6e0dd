//! MANN or the LSTM learner on a Gaussian-classes stream, printing accuracy by instance as it
//! trains: `cargo run --example gaussian_stream -- mann 2000 3e-3`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use autodidact_core::layers::BackboneKind;
use autodidact_core::{Algorithm, Hyperparams, Seed, Split};
use autodidact_envs::{GaussianClasses, GaussianClassesParams};
use autodidact_model_based::hyperparams::ModelBasedParams;
use autodidact_model_based::{Method, ModelBasedLearner};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let method = match args.get(1).map(String::as_str) {
        Some("lstm-learner") | Some("lstm") => Method::Lstm,
        _ => Method::Mann,
    };
    let steps: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let lr: f64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(3e-3);
    let ways: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(3);
    let hp = ModelBasedParams {
        meta_iterations: steps,
        batch_size: 8,
        instances: 5,
        lr,
        controller_hidden: 32,
        memory_slots: 16,
        memory_width: 8,
        read_heads: 2,
        backbone: BackboneKind::Mlp,
        hidden: vec![16],
        embedding_dim: 8,
        val_every: 0,
        log_every: 100_000,
        ..ModelBasedParams::default()
    }
    .check()
    .unwrap();
    let env = GaussianClasses::new(GaussianClassesParams {
        ways,
        shots: 1,
        queries: 9,
        dim: 8,
        noise: 0.5,
        ..Default::default()
    })
    .unwrap();
    let mut l = ModelBasedLearner::with_distribution(method, hp, Box::new(env), Seed(1)).unwrap();
    let t0 = std::time::Instant::now();
    for i in 1..=steps {
        l.train_step().unwrap();
        if i % (steps / 10).max(1) == 0 {
            let m = l
                .evaluate_on(l.distribution(), Split::Test, 200, "")
                .unwrap();
            println!(
                "{i:6} {:6.1}s  1st {:.3}  2nd {:.3}  3rd {:.3}  5th {:.3}  loss {:.3}",
                t0.elapsed().as_secs_f64(),
                m["instance_1_accuracy"],
                m["instance_2_accuracy"],
                m["instance_3_accuracy"],
                m["instance_5_accuracy"],
                m["loss"]
            );
        }
    }
}
