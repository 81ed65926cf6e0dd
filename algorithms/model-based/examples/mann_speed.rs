//! MANN training speed on 5-class episodes of Omniglot-sized inputs (20 × 20 = 400 values, the
//! paper's), for the side-by-side bench `bench/model-based/speed.sh`:
//! `cargo run --release -p autodidact-model-based --example mann_speed -- [UPDATES] [WARMUP]`.
//!
//! The paper's MANN: raw pixels through one linear layer (our MLP backbone with no hidden
//! layer, 64 outputs), an LSTM controller of 200 units, a 128 × 40 memory, 4 read heads,
//! 10 instances of 5 classes per episode (50 steps), 16 episodes per update, Adam. Inputs are
//! Gaussian classes of 400 values: the speed does not depend on the pixels.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use autodidact_core::layers::BackboneKind;
use autodidact_core::{Algorithm, Hyperparams, Seed};
use autodidact_envs::{GaussianClasses, GaussianClassesParams};
use autodidact_model_based::hyperparams::ModelBasedParams;
use autodidact_model_based::{Method, ModelBasedLearner};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let updates: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(20);
    let warmup: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2);
    let hp = ModelBasedParams {
        meta_iterations: updates + warmup,
        batch_size: 16,
        instances: 10,
        lr: 1e-3,
        controller_hidden: 200,
        memory_slots: 128,
        memory_width: 40,
        read_heads: 4,
        backbone: BackboneKind::Mlp,
        hidden: vec![],
        embedding_dim: 64,
        val_every: 0,
        early_stopping: false,
        log_every: 1_000_000,
        ..ModelBasedParams::default()
    }
    .check()
    .unwrap();
    let env = GaussianClasses::new(GaussianClassesParams {
        ways: 5,
        shots: 1,
        queries: 9,
        dim: 400,
        ..Default::default()
    })
    .unwrap();
    let mut l =
        ModelBasedLearner::with_distribution(Method::Mann, hp, Box::new(env), Seed(0)).unwrap();
    for _ in 0..warmup {
        l.train_step().unwrap();
    }
    let t0 = std::time::Instant::now();
    let mut loss = 0.0;
    for _ in 0..updates {
        loss = l.update().unwrap().0;
    }
    let secs = t0.elapsed().as_secs_f64();
    let episodes = (updates * 16) as f64;
    println!(
        "ours: {updates} updates of 16 episodes (50 steps) in {secs:.2} s = {:.2} episodes/s (last loss {loss:.3}, {} parameters)",
        episodes / secs,
        l.params().tensors().iter().map(|t| t.len()).sum::<usize>()
    );
}
