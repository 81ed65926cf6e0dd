//! Throwaway diagnostic (not committed): EWC on Omniglot Conv4, Fisher per tensor.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
use autodidact_continual::ewc::Anchor;
use autodidact_continual::hyperparams::{defaults_for, ContinualParams};
use autodidact_continual::{ContinualLearner, Method};
use autodidact_core::{Config, Seed};
use autodidact_envs::streams::split_stream_from_config;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let lambda: f64 = args.get(1).map(|s| s.parse().unwrap()).unwrap_or(300.0);
    let stop: usize = args.get(2).map(|s| s.parse().unwrap()).unwrap_or(3);
    let data = "../shared/data";
    let cfg: Config = toml::from_str(&format!("source = \"omniglot\"\ndata_dir = [\"{data}/omniglot/images_background_small1.zip\", \"{data}/omniglot/images_background_small2.zip\"]\nexperiences = 10\nscenario = \"class-incremental\"\nimage_size = 28\n")).unwrap();
    let s = split_stream_from_config(&cfg, Seed(0)).unwrap();
    let mut hp: ContinualParams = defaults_for("ewc");
    hp.backbone = "conv4".into();
    hp.epochs = 10;
    hp.ewc_lambda = lambda;
    let mut l = ContinualLearner::with_stream(Method::Ewc, hp, &s, Seed(0)).unwrap();
    let names = l.params().names().to_vec();
    while l.matrix().trained() < stop {
        let m = l.train_epoch().unwrap();
        println!(
            "{:?}",
            m.iter()
                .filter(
                    |(k, _)| ["loss", "penalty", "experience"].contains(&k.as_str())
                        || k.starts_with("acc")
                )
                .collect::<Vec<_>>()
        );
        if m.contains_key("acc") || m.keys().any(|k| k.starts_with("r_")) {
            println!("diag {:?}", l.matrix().diagonal());
            let anchors: Vec<Anchor> =
                serde_json::from_value(l.strategy().save_state().unwrap()).unwrap();
            if let Some(a) = anchors.last() {
                for ((n, f), p) in names.iter().zip(&a.fisher).zip(&a.params) {
                    let mean = f.mean().unwrap();
                    let max = f.iter().cloned().fold(0.0f32, f32::max);
                    let pn = p.iter().map(|x| x * x).sum::<f32>().sqrt();
                    println!(
                        "  {n:24} {:?} fisher mean {mean:.3e} max {max:.3e} |θ| {pn:.3}",
                        f.shape()
                    );
                }
            }
        }
    }
    println!("diag {:?}", l.matrix().diagonal());
}
