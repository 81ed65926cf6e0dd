//! Sampling speed: an Omniglot episode from the decoded cache, a gridworld step, a CartPole
//! step, and a few task distributions. `cargo bench -p autodidact-envs --bench envs`.
//!
//! The Omniglot bench uses a synthetic dataset of the real cache's shape (242 characters x
//! 20 drawings x 28x28), so it needs no data; set `OMNIGLOT_DIR` to also time the real files.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use autodidact_core::{Action, Environment, Seed, Split, TaskDistribution};
use autodidact_envs::classification::{ClassSplits, FewShotClassification, LabelledDataset};
use autodidact_envs::{
    CartPole, GaussianClasses, GaussianClassesParams, Gridworld, GridworldParams, Omniglot,
    OmniglotParams, Sinusoid, SinusoidParams,
};
use criterion::{criterion_group, criterion_main, Criterion};
use rand::Rng as _;

fn synthetic_omniglot() -> Arc<LabelledDataset> {
    let mut rng = Seed(0).rng("bench-data");
    let mut d = LabelledDataset::new("omniglot", vec![1, 28, 28]);
    for c in 0..242 {
        let data: Vec<f32> = (0..20 * 784)
            .map(|_| if rng.random::<f32>() < 0.1 { 1.0 } else { 0.0 })
            .collect();
        d.push_class(format!("a/c{c}"), format!("a/c{c}"), data)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    Arc::new(d)
}

fn bench_episodes(c: &mut Criterion) {
    let data = synthetic_omniglot();
    let splits = ClassSplits::by_seed(&data, 0.6, 0.2, Seed(0)).unwrap_or_else(|e| panic!("{e}"));
    let fs = FewShotClassification::new(data, splits, 5, 1, 15).unwrap_or_else(|e| panic!("{e}"));
    let mut rng = Seed(1).rng("bench");
    c.bench_function("omniglot_episode_5way_1shot_15query", |b| {
        b.iter(|| {
            black_box(
                fs.sample(Split::Train, &mut rng)
                    .unwrap_or_else(|e| panic!("{e}")),
            )
        })
    });
    let fs20 = FewShotClassification::new(fs.data().clone(), fs.splits().clone(), 20, 5, 15)
        .unwrap_or_else(|e| panic!("{e}"));
    c.bench_function("omniglot_episode_20way_5shot_15query", |b| {
        b.iter(|| {
            black_box(
                fs20.sample(Split::Train, &mut rng)
                    .unwrap_or_else(|e| panic!("{e}")),
            )
        })
    });
    if let Ok(dir) = std::env::var("OMNIGLOT_DIR") {
        let om = Omniglot::load(
            &OmniglotParams {
                data_dir: vec![dir].into(),
                ..OmniglotParams::default()
            },
            Seed(0),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        c.bench_function("omniglot_real_episode_5way_1shot_15query", |b| {
            b.iter(|| {
                black_box(
                    om.sample(Split::Train, &mut rng)
                        .unwrap_or_else(|e| panic!("{e}")),
                )
            })
        });
    }
    let s = Sinusoid::new(SinusoidParams::default()).unwrap_or_else(|e| panic!("{e}"));
    c.bench_function("sinusoid_task_10shot_10query", |b| {
        b.iter(|| {
            black_box(
                s.sample(Split::Train, &mut rng)
                    .unwrap_or_else(|e| panic!("{e}")),
            )
        })
    });
    let g =
        GaussianClasses::new(GaussianClassesParams::default()).unwrap_or_else(|e| panic!("{e}"));
    c.bench_function("gaussian_classes_task_5way_1shot_15query", |b| {
        b.iter(|| {
            black_box(
                g.sample(Split::Train, &mut rng)
                    .unwrap_or_else(|e| panic!("{e}")),
            )
        })
    });
}

fn bench_steps(c: &mut Criterion) {
    let mut g = Gridworld::builtin("frozen-lake-8x8").unwrap_or_else(|e| panic!("{e}"));
    g.reset(Some(0));
    let mut i = 0usize;
    c.bench_function("gridworld_step_frozen_lake_8x8_one_hot", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            let r = g
                .step(&Action::Discrete(i & 3))
                .unwrap_or_else(|e| panic!("{e}"));
            if r.terminated || r.truncated {
                g.reset(None);
            }
            black_box(r)
        })
    });
    let p = GridworldParams {
        map: "four-rooms".into(),
        observation: autodidact_envs::ObservationName::Coords,
        ..GridworldParams::default()
    };
    let mut g = Gridworld::from_params(&p, Seed(0)).unwrap_or_else(|e| panic!("{e}"));
    g.reset(Some(0));
    c.bench_function("gridworld_step_four_rooms_coords", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            let r = g
                .step(&Action::Discrete(i & 3))
                .unwrap_or_else(|e| panic!("{e}"));
            if r.terminated || r.truncated {
                g.reset(None);
            }
            black_box(r)
        })
    });
    let mut g = Gridworld::builtin("frozen-lake-8x8").unwrap_or_else(|e| panic!("{e}"));
    c.bench_function("gridworld_step_index_no_observation", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            let r = g.step_index(i & 3).unwrap_or_else(|e| panic!("{e}"));
            if r.2 || r.3 {
                g.reset(None);
            }
            black_box(r)
        })
    });
    let mut cp = CartPole::new();
    cp.reset(Some(0));
    c.bench_function("cartpole_step", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            let r = cp
                .step(&Action::Discrete(i & 1))
                .unwrap_or_else(|e| panic!("{e}"));
            if r.terminated || r.truncated {
                cp.reset(None);
            }
            black_box(r)
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2)).sample_size(50);
    targets = bench_episodes, bench_steps
}
criterion_main!(benches);
