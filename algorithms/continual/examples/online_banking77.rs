//! A small measurement of BANKING77 online without the runner: 37 intents of the seeded order
//! as training classes, the next 40 arriving one intent at a time, one message per step (at
//! most `MAX_PER_CLASS` per intent, 20 % held out), hashed n-gram features; OML, the
//! pretraining baseline, MER, Replay with the same memory, Naive and the i.i.d. learner.
//!
//!   cargo run -p autodidact-continual --example online_banking77 -- DATA_DIR SEEDS META MAX_PER_CLASS
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use autodidact_continual::hyperparams::{defaults_for, ContinualParams, OptimizerKind};
use autodidact_continual::oml_learner::{OmlLearner, OmlParams, Representation};
use autodidact_continual::replay::Policy;
use autodidact_continual::{ContinualLearner, Method};
use autodidact_core::layers::BackboneKind;
use autodidact_core::{Algorithm, Hyperparams as _, Scenario, Seed};
use autodidact_envs::{Holdout, Intents, IntentsParams, SplitStream, StreamOptions};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = args
        .get(1)
        .cloned()
        .unwrap_or("../shared/data/banking77".into());
    let seeds: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let meta: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let per_class: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(60);
    let p = IntentsParams {
        data_dir: vec![dir].into(),
        ..IntentsParams::default()
    };
    println!("method | seed | final seen test acc | ACC | BWT | ms per example");
    for seed in 0..seeds {
        let data = Intents::load_data(&p, Seed(seed)).expect("BANKING77").data;
        let stream = SplitStream::with_options(
            &data,
            40,
            Scenario::ClassIncremental,
            Holdout::Random(0.2),
            per_class,
            Seed(seed),
            StreamOptions {
                online: true,
                pretrain_classes: 37,
                stream_classes: 40,
            },
        )
        .unwrap();
        for rep in [Representation::Oml, Representation::Pretrained] {
            let hp = OmlParams {
                representation: rep,
                rln_hidden: vec![256],
                meta_iterations: meta,
                traj_classes: 5,
                traj_shots: 5,
                remember: 25,
                inner_lr: 0.1,
                ..OmlParams::default()
            };
            let mut l = OmlLearner::with_stream(hp.check().unwrap(), &stream, Seed(seed)).unwrap();
            while l.steps_done() < l.meta_steps() {
                l.train_step().unwrap();
            }
            let t = Instant::now();
            while l.steps_done() < l.total_steps() {
                l.train_step().unwrap();
            }
            let per = t.elapsed().as_secs_f64() / (l.total_steps() - l.meta_steps()) as f64;
            let last = l.online_progress().curve.last().unwrap().test_acc;
            println!(
                "oml {rep:?} | {seed} | {:.1} | {:.1} | {:.1} | {:.2}",
                100.0 * last,
                100.0 * l.matrix().acc(),
                100.0 * l.matrix().bwt(),
                1e3 * per
            );
        }
        for method in [Method::Mer, Method::Replay, Method::Naive, Method::Joint] {
            let hp = ContinualParams {
                backbone: BackboneKind::Mlp,
                hidden: vec![256],
                optimizer: OptimizerKind::Sgd,
                lr: 0.1,
                buffer_size: 200,
                buffer_policy: Policy::Reservoir,
                replay_batch: 9,
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
            let last = l.online_progress().curve.last().unwrap().test_acc;
            println!(
                "{} | {seed} | {:.1} | {:.1} | {:.1} | {:.2}",
                method.name(),
                100.0 * last,
                100.0 * l.matrix().acc(),
                100.0 * l.matrix().bwt(),
                1e3 * per
            );
        }
    }
}
