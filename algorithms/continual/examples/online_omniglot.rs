//! A small measurement of the OML protocol on Omniglot-small without the runner (its release
//! build did not fit the session): for each seed, the `split` stream over both small zips with
//! `pretrain_classes` training characters and `stream_classes` online ones (one per block),
//! then `oml`, the pretraining baseline, a random frozen representation, and the continual
//! strategies `naive`, `replay` and `joint` on the same stream. Prints, per method, the pooled
//! test accuracy on everything seen after N classes for the N on the command line, and the
//! wall time per online example.
//!
//!   cargo run -p autodidact-continual --example online_omniglot -- DATA_DIR SEEDS META N...
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use autodidact_continual::hyperparams::{defaults_for, ContinualParams, OptimizerKind};
use autodidact_continual::oml_learner::{OmlLearner, OmlParams, Representation};
use autodidact_continual::{ContinualLearner, Method};
use autodidact_core::layers::BackboneKind;
use autodidact_core::{Algorithm, Hyperparams as _, Scenario, Seed};
use autodidact_envs::{Holdout, Omniglot, OmniglotParams, SplitStream, StreamOptions};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = args
        .get(1)
        .cloned()
        .unwrap_or("../shared/data/omniglot".into());
    let seeds: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let meta: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(300);
    let ns: Vec<usize> = args[4.min(args.len())..]
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect();
    let stream_n = ns.iter().copied().max().unwrap_or(50);
    let p = OmniglotParams {
        data_dir: vec![
            format!("{dir}/images_background_small1.zip"),
            format!("{dir}/images_background_small2.zip"),
        ]
        .into(),
        ..OmniglotParams::default()
    };
    let data = Omniglot::load_dataset(&p).expect("the Omniglot zips");
    let pretrain = data.num_classes() - stream_n;
    println!(
        "Omniglot-small: {} characters, {pretrain} training, {stream_n} online; meta/pretraining steps {meta}",
        data.num_classes()
    );
    let mut rows: Vec<(String, Vec<Vec<f64>>, Vec<f64>)> = Vec::new();
    for seed in 0..seeds {
        let stream = SplitStream::with_options(
            &data,
            stream_n,
            Scenario::ClassIncremental,
            Holdout::Random(0.25),
            0,
            Seed(seed),
            StreamOptions {
                online: true,
                pretrain_classes: pretrain,
                stream_classes: stream_n,
            },
        )
        .unwrap();
        let mut record = |name: &str, curve: Vec<f64>, secs: f64| {
            let acc: Vec<f64> = ns.iter().map(|&n| curve[n - 1]).collect();
            match rows.iter_mut().find(|r| r.0 == name) {
                Some(r) => {
                    r.1.push(acc);
                    r.2.push(secs);
                }
                None => rows.push((name.to_string(), vec![acc], vec![secs])),
            }
        };
        for rep in [
            Representation::Oml,
            Representation::Pretrained,
            Representation::Random,
        ] {
            let hp = OmlParams {
                representation: rep,
                meta_iterations: meta,
                traj_classes: 5,
                traj_shots: 5,
                remember: 25,
                ..OmlParams::default()
            };
            let mut l = OmlLearner::with_stream(hp.check().unwrap(), &stream, Seed(seed)).unwrap();
            let t = Instant::now();
            while l.steps_done() < l.meta_steps() {
                l.train_step().unwrap();
            }
            let meta_secs = t.elapsed().as_secs_f64();
            let t = Instant::now();
            while l.steps_done() < l.total_steps() {
                l.train_step().unwrap();
            }
            let per = t.elapsed().as_secs_f64() / (l.total_steps() - l.meta_steps()) as f64;
            let curve = l
                .online_progress()
                .curve
                .iter()
                .map(|c| c.test_acc)
                .collect();
            eprintln!("seed {seed} {rep:?}: meta {meta_secs:.1} s");
            record(&format!("oml representation={rep:?}"), curve, per);
        }
        for method in [Method::Naive, Method::Replay, Method::Joint] {
            let hp = ContinualParams {
                backbone: BackboneKind::Mlp,
                hidden: vec![256, 256],
                optimizer: OptimizerKind::Sgd,
                lr: 0.03,
                buffer_size: 200,
                replay_batch: 9,
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
            let curve = l
                .online_progress()
                .curve
                .iter()
                .map(|c| c.test_acc)
                .collect();
            record(method.name(), curve, per);
        }
    }
    println!(
        "method | {} | ms per online example (incl. evaluation)",
        ns.iter()
            .map(|n| format!("N={n}"))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    for (name, accs, secs) in &rows {
        let k = accs.len() as f64;
        let means: Vec<String> = (0..ns.len())
            .map(|i| format!("{:.1}", 100.0 * accs.iter().map(|a| a[i]).sum::<f64>() / k))
            .collect();
        println!(
            "{name} | {} | {:.2}",
            means.join(" | "),
            1e3 * secs.iter().sum::<f64>() / k
        );
    }
}
