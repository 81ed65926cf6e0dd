//! A small measurement of permuted Omniglot-small online without the runner: MER against
//! Replay and A-GEM with the same memory, and Naive, on the `permuted` stream over
//! background_small1 (`max_per_class` drawings per character, 20 % held out), each
//! permutation's examples seen once. Prints ACC, BWT and the wall time per example.
//!
//!   cargo run -p autodidact-continual --example online_permuted -- DATA_DIR SEEDS PERMS MAX_PER_CLASS
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use autodidact_continual::hyperparams::{defaults_for, ContinualParams, OptimizerKind};
use autodidact_continual::replay::Policy;
use autodidact_continual::{ContinualLearner, Method};
use autodidact_core::layers::BackboneKind;
use autodidact_core::{Algorithm, Hyperparams as _, Seed};
use autodidact_envs::{Holdout, Omniglot, OmniglotParams, PermutedStream};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = args
        .get(1)
        .cloned()
        .unwrap_or("../shared/data/omniglot".into());
    let seeds: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let perms: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(3);
    let per_class: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(10);
    let p = OmniglotParams {
        data_dir: vec![format!("{dir}/images_background_small1.zip")].into(),
        ..OmniglotParams::default()
    };
    let data = Omniglot::load_dataset(&p).expect("the Omniglot zip");
    println!("method | seed | ACC | BWT | ms per example");
    for seed in 0..seeds {
        let mut stream =
            PermutedStream::new(&data, perms, Holdout::Random(0.2), per_class, Seed(seed)).unwrap();
        stream.set_online(true);
        for method in [Method::Mer, Method::Replay, Method::Agem, Method::Naive] {
            let hp = ContinualParams {
                backbone: BackboneKind::Mlp,
                hidden: vec![256],
                optimizer: OptimizerKind::Sgd,
                lr: 0.03,
                buffer_size: 200,
                buffer_policy: Policy::Reservoir,
                replay_batch: 9,
                agem_sample: 9,
                mer_batches: 2,
                mer_batch_size: 5,
                mer_beta: 0.1,
                mer_gamma: 1.0,
                ..defaults_for(method.name())
            };
            let mut l =
                ContinualLearner::with_stream(method, hp.check().unwrap(), &stream, Seed(seed))
                    .unwrap();
            let t = Instant::now();
            while l.steps_done() < l.total_steps() {
                l.train_step().unwrap();
            }
            let per = t.elapsed().as_secs_f64() / l.total_steps() as f64;
            println!(
                "{} | {seed} | {:.1} | {:.1} | {:.2}",
                method.name(),
                100.0 * l.matrix().acc(),
                100.0 * l.matrix().bwt(),
                1e3 * per
            );
        }
    }
}
