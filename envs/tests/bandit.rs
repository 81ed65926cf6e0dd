//! Bernoulli bandits and their distribution.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use autodidact_core::{
    Action, EnvDistribution, Environment, Hyperparams, Seed, Split, TabularModel,
};
use autodidact_envs::bandit::{BanditDistribution, BanditParams, BernoulliBandit};

#[test]
fn pulls_follow_the_probabilities_and_the_model() {
    let mut b = BernoulliBandit::new(vec![0.1, 0.8, 0.5], 1_000_000, Seed(0)).unwrap();
    assert_eq!(b.best_arm(), 1);
    assert!((b.regret(0) - 0.7).abs() < 1e-12);
    let n = 20_000;
    for a in 0..3 {
        let mean = (0..n)
            .map(|_| b.step(&Action::Discrete(a)).unwrap().reward)
            .sum::<f64>()
            / n as f64;
        let p = b.probs()[a];
        assert!(
            (mean - p).abs() < 5.0 * (p * (1.0 - p) / n as f64).sqrt() + 1e-9,
            "arm {a}: {mean} vs {p}"
        );
        assert!((b.expected_reward(0, a) - p).abs() < 1e-12);
        let total: f64 = b.transitions(0, a).iter().map(|t| t.prob).sum();
        assert!((total - 1.0).abs() < 1e-12);
    }
    assert!(b.tabular().is_some());
    let (o, _) = b.reset(None);
    assert_eq!(b.observation_of(0), Some(o));
    assert_eq!(b.observation_of(1), None);
    assert!(b.step(&Action::Discrete(3)).is_err());
}

#[test]
fn episodes_truncate_at_the_horizon_and_are_seeded() {
    let p = BanditParams {
        arms: 4,
        horizon: 5,
        probs: vec![],
    };
    let mut a = BernoulliBandit::from_params(&p, Seed(2)).unwrap();
    let b = BernoulliBandit::from_params(&p, Seed(2)).unwrap();
    let c = BernoulliBandit::from_params(&p, Seed(3)).unwrap();
    assert_eq!(a.probs(), b.probs());
    assert_ne!(a.probs(), c.probs());
    a.reset(Some(1));
    let r: Vec<_> = (0..5)
        .map(|_| a.step(&Action::Discrete(0)).unwrap())
        .collect();
    assert!(r[..4].iter().all(|s| !s.truncated && !s.terminated));
    assert!(r[4].truncated);
    assert!(BanditParams {
        arms: 2,
        horizon: 5,
        probs: vec![0.1]
    }
    .validate()
    .is_err());
    assert!(BanditParams {
        arms: 1,
        horizon: 5,
        probs: vec![1.5]
    }
    .validate()
    .is_err());
}

#[test]
fn distribution_draws_uniform_probabilities() {
    let d = BanditDistribution::new(5, 10).unwrap();
    let mut rng = Seed(0).rng("meta");
    let mut all = vec![];
    for _ in 0..200 {
        let b = d.sample_bandit(&mut rng).unwrap();
        all.extend_from_slice(b.probs());
    }
    let mean = all.iter().sum::<f64>() / all.len() as f64;
    assert!((mean - 0.5).abs() < 0.03, "{mean}");
    assert!(all.iter().all(|p| (0.0..=1.0).contains(p)));
    let e = d.sample_env(Split::Test, &mut Seed(1).rng("x")).unwrap();
    assert_eq!(e.action_space(), d.template().action_space());
    let mut r1 = Seed(9).rng("x");
    let mut r2 = Seed(9).rng("x");
    assert_eq!(
        d.sample_bandit(&mut r1).unwrap().probs(),
        d.sample_bandit(&mut r2).unwrap().probs()
    );
}
