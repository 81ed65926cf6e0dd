//! Writes a PNG picture of every built-in gridworld map into `docs/img/` (run from the
//! workspace root: `cargo run -p autodidact-envs --example render_maps`), plus one random map
//! and one map with a value function and greedy policy from value iteration drawn on it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use autodidact_core::{Seed, TabularModel};
use autodidact_envs::gridworld::{Gridworld, GridworldParams, PngOptions, BUILTIN_MAPS};

/// Value iteration: the optimal values and a greedy policy.
fn value_iteration(m: &dyn TabularModel, gamma: f64) -> (Vec<f64>, Vec<usize>) {
    let n = m.num_states();
    let mut v = vec![0.0; n];
    for _ in 0..1000 {
        let mut delta: f64 = 0.0;
        for s in 0..n {
            if m.is_terminal(s) {
                continue;
            }
            let best = (0..m.num_actions())
                .map(|a| {
                    m.transitions(s, a)
                        .iter()
                        .map(|t| t.prob * (t.reward + if t.done { 0.0 } else { gamma * v[t.next] }))
                        .sum::<f64>()
                })
                .fold(f64::NEG_INFINITY, f64::max);
            delta = delta.max((best - v[s]).abs());
            v[s] = best;
        }
        if delta < 1e-10 {
            break;
        }
    }
    let policy = (0..n)
        .map(|s| {
            let q = |a: usize| {
                m.transitions(s, a)
                    .iter()
                    .map(|t| t.prob * (t.reward + if t.done { 0.0 } else { gamma * v[t.next] }))
                    .sum::<f64>()
            };
            (0..m.num_actions()).fold(0, |b, a| if q(a) > q(b) + 1e-12 { a } else { b })
        })
        .collect();
    (v, policy)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::Path::new("docs/img");
    std::fs::create_dir_all(dir)?;
    for b in BUILTIN_MAPS {
        let g = Gridworld::builtin(b.name)?;
        let path = dir.join(format!("gridworld-{}.png", b.name));
        g.save_png(&path, &PngOptions::default())?;
        println!("{}", path.display());
    }
    let random = Gridworld::from_params(
        &GridworldParams {
            map: "random".into(),
            rows: 10,
            cols: 10,
            ..GridworldParams::default()
        },
        Seed(3),
    )?;
    let path = dir.join("gridworld-random.png");
    random.save_png(&path, &PngOptions::default())?;
    println!("{}", path.display());
    for name in ["frozen-lake-8x8", "cliff-walk", "four-rooms"] {
        let g = Gridworld::builtin(name)?;
        let (values, policy) = value_iteration(g.model(), 0.95);
        let path = dir.join(format!("gridworld-{name}-values.png"));
        g.save_png(
            &path,
            &PngOptions {
                show_agent: false,
                values: Some(values),
                policy: Some(policy),
                ..PngOptions::default()
            },
        )?;
        println!("{}", path.display());
    }
    Ok(())
}
