//! Loads the real data sets beside the project (`../shared/data`) and prints what was found
//! and how long loading and episode sampling take. Run from the workspace root:
//! `cargo run --release -p autodidact-envs --example real_data`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use autodidact_core::{Seed, Split, TaskDistribution, TaskStream};
use autodidact_envs::{Intents, IntentsParams, Omniglot, OmniglotParams};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let p = OmniglotParams::default();
    let t = Instant::now();
    let om = match Omniglot::load(&p, Seed(0)) {
        Ok(om) => om,
        Err(e) => {
            eprintln!("omniglot: {e}\n(the real data lives in ../shared/data; run from the workspace root)");
            return Err(e.into());
        }
    };
    let load = t.elapsed();
    let s = om.sampler().splits();
    println!(
        "omniglot {:?}: {} characters, {} images, load + decode {:.2?}; splits train {} / validation {} / test {}",
        p.data_dir,
        om.num_characters(),
        om.dataset().num_examples(),
        load,
        s.train.len(),
        s.validation.len(),
        s.test.len()
    );
    let t = Instant::now();
    let again = Omniglot::load(&p, Seed(1))?;
    println!(
        "omniglot second load (process cache): {:.2?}, {} classes",
        t.elapsed(),
        again.dataset().num_classes()
    );
    let mut rng = Seed(0).rng("bench");
    let n = 2000;
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(om.sample(Split::Train, &mut rng)?);
    }
    println!(
        "omniglot 5-way 1-shot 15-query episode: {:.1} µs",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    let rot = Omniglot::load(
        &OmniglotParams {
            rotations: true,
            ..OmniglotParams::default()
        },
        Seed(0),
    )?;
    println!(
        "omniglot with rotations: {} classes from {} characters",
        rot.dataset().num_classes(),
        rot.num_characters()
    );

    let ip = IntentsParams::default();
    let t = Instant::now();
    let it = Intents::load(&ip, Seed(0))?;
    let s = it.sampler().splits();
    println!(
        "intents {:?}: {} intents, {} texts, dim {}, load + featurise {:.2?}; splits {} / {} / {}; smallest class {} texts",
        ip.data_dir,
        it.dataset().num_classes(),
        it.dataset().num_examples(),
        ip.dim,
        t.elapsed(),
        s.train.len(),
        s.validation.len(),
        s.test.len(),
        it.dataset().classes().iter().map(|c| c.len()).min().unwrap_or(0)
    );
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(it.sample(Split::Train, &mut rng)?);
    }
    println!(
        "intents 5-way 5-shot 10-query episode: {:.1} µs",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );

    let mut cfg = autodidact_core::Config::new();
    cfg.insert("source".into(), "intents".into());
    cfg.insert("experiences".into(), 7i64.into());
    let t = Instant::now();
    let stream = autodidact_envs::streams::split_stream_from_config(&cfg, Seed(0))?;
    println!(
        "class-incremental BANKING77 stream: {} experiences, {} classes, first experience {} train / {} test examples, classes {:?}…, built in {:.2?}",
        stream.experiences().len(),
        stream.num_classes(),
        stream.experiences()[0].train_y.len(),
        stream.experiences()[0].test_y.len(),
        &stream.class_names()[..3],
        t.elapsed()
    );
    Ok(())
}
