//! The exact bandit references: the Bayes-optimal programme against closed forms and an
//! independent brute-force expectimax, its policy against Monte Carlo, and every other policy
//! below it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use autodidact_core::Seed;
use autodidact_rl::bandit_reference::{
    canonical_state_count, exact_return, monte_carlo, BayesOptimal, Counts, GittinsTable, Policy,
    PolicyKind,
};

const BIG: u128 = 10_000_000;

fn value(arms: usize, pulls: usize) -> f64 {
    BayesOptimal::new(arms, pulls, BIG).unwrap().value()
}

#[test]
fn closed_forms() {
    for k in 1..=6 {
        assert!((value(k, 1) - 0.5).abs() < 1e-15, "n = 1, K = {k}");
    }
    // One arm: nothing to choose, E[p] per pull.
    for n in 1..=30 {
        assert!(
            (value(1, n) - n as f64 / 2.0).abs() < 1e-12,
            "K = 1, n = {n}"
        );
    }
    // K = 2, n = 2: pull any arm (1/2); stay after a success (2/3), switch after a failure
    // (1/2): 1/2 + 1/2 · 2/3 + 1/2 · 1/2 = 13/12.
    assert!((value(2, 2) - 13.0 / 12.0).abs() < 1e-15);
    // More arms never hurt, and the value is below n · E[max p] = n K / (K + 1).
    for n in 1..=8 {
        for k in 1..=4 {
            let v = value(k, n);
            assert!(v <= value(k + 1, n) + 1e-12, "K = {k}, n = {n}");
            assert!(v <= n as f64 * k as f64 / (k as f64 + 1.0) + 1e-12);
        }
    }
}

/// `∫ Π_a p_a^{s_a} (1 − p_a)^{f_a} dp = Π_a s_a! f_a! / (s_a + f_a + 1)!`: the prior
/// probability of a history, by Beta integrals.
fn history_probability(counts: &[(u32, u32)]) -> f64 {
    let fact = |n: u32| (1..=n).map(f64::from).product::<f64>();
    counts
        .iter()
        .map(|&(s, f)| fact(s) * fact(f) / fact(s + f + 1))
        .product()
}

/// Expectimax over full histories (no memo, no symmetry), the chance of each outcome being
/// the ratio of the Beta integrals of the history with and without it.
fn expectimax(counts: &mut Vec<(u32, u32)>, left: usize) -> f64 {
    if left == 0 {
        return 0.0;
    }
    let before = history_probability(counts);
    let mut best = f64::NEG_INFINITY;
    for a in 0..counts.len() {
        counts[a].0 += 1;
        let p_win = history_probability(counts) / before;
        let win = expectimax(counts, left - 1);
        counts[a].0 -= 1;
        counts[a].1 += 1;
        let lose = expectimax(counts, left - 1);
        counts[a].1 -= 1;
        best = best.max(p_win * (1.0 + win) + (1.0 - p_win) * lose);
    }
    best
}

#[test]
fn dynamic_programme_equals_brute_force_expectimax() {
    for (k, max_n) in [(2, 5), (3, 4), (4, 3)] {
        for n in 1..=max_n {
            let brute = expectimax(&mut vec![(0, 0); k], n);
            let dp = value(k, n);
            assert!(
                (brute - dp).abs() < 1e-12,
                "K = {k}, n = {n}: brute force {brute}, programme {dp}"
            );
        }
    }
}

#[test]
fn canonical_state_count_matches_enumeration() {
    fn enumerate(k: usize, total: usize) -> usize {
        let pairs: Vec<(u32, u32)> = (0..=total as u32)
            .flat_map(|s| (0..=total as u32 - s).map(move |f| (s, f)))
            .collect();
        let mut seen = BTreeSet::new();
        let mut idx = vec![0usize; k];
        loop {
            let mut t: Vec<(u32, u32)> = idx.iter().map(|&i| pairs[i]).collect();
            if t.iter().map(|p| (p.0 + p.1) as usize).sum::<usize>() <= total {
                t.sort_unstable();
                seen.insert(t);
            }
            let mut j = 0;
            loop {
                if j == k {
                    return seen.len();
                }
                idx[j] += 1;
                if idx[j] < pairs.len() {
                    break;
                }
                idx[j] = 0;
                j += 1;
            }
        }
    }
    for (k, t) in [(1, 5), (2, 4), (3, 3), (4, 2)] {
        assert_eq!(
            canonical_state_count(k, t),
            enumerate(k, t) as u128,
            "K = {k}, total {t}"
        );
    }
    // And the programme stores exactly the decision states (fewer than n pulls made).
    let mut b = BayesOptimal::new(3, 6, BIG).unwrap();
    b.value();
    assert_eq!(b.states_stored() as u128, canonical_state_count(3, 5));
}

#[test]
fn intractable_programmes_are_refused_with_the_count() {
    let err = BayesOptimal::new(10, 100, BIG).unwrap_err().to_string();
    assert!(err.contains("pulls") && err.contains("canonical"), "{err}");
}

#[test]
fn bayes_policy_simulated_matches_its_value() {
    let (k, n) = (3, 10);
    let v = value(k, n);
    let mut policy = Policy::new(PolicyKind::BayesOptimal, k, n).unwrap();
    let est = monte_carlo(&mut policy, k, n, 40_000, Seed(11));
    let z = (est.mean - v) / est.std_error;
    assert!(z.abs() < 4.0, "value {v}, simulated {est:?}, z = {z}");
    // Its exact return is its value.
    let exact = exact_return(&mut policy, k, n, BIG).unwrap();
    assert!((exact - v).abs() < 1e-12);
}

#[test]
fn exact_returns_agree_with_monte_carlo() {
    let (k, n) = (3, 8);
    for kind in [
        PolicyKind::Gittins,
        PolicyKind::Ucb1,
        PolicyKind::Greedy,
        PolicyKind::Random,
    ] {
        let mut p = Policy::new(kind, k, n).unwrap();
        let exact = exact_return(&mut p, k, n, BIG).unwrap();
        let est = monte_carlo(&mut p, k, n, 20_000, Seed(12));
        let z = (est.mean - exact) / est.std_error;
        assert!(z.abs() < 4.0, "{}: exact {exact}, {est:?}", kind.name());
    }
    // Random play earns E[p] per pull exactly.
    let mut r = Policy::new(PolicyKind::Random, k, n).unwrap();
    assert!((exact_return(&mut r, k, n, BIG).unwrap() - n as f64 / 2.0).abs() < 1e-12);
}

#[test]
fn bayes_optimal_beats_every_other_policy() {
    for (k, n) in [(2, 12), (3, 8), (5, 6), (2, 30)] {
        let v = value(k, n);
        for kind in [
            PolicyKind::Gittins,
            PolicyKind::Ucb1,
            PolicyKind::Greedy,
            PolicyKind::Random,
        ] {
            let mut p = Policy::new(kind, k, n).unwrap();
            let r = exact_return(&mut p, k, n, BIG).unwrap();
            assert!(r <= v + 1e-12, "K {k} n {n}: {} {r} > {v}", kind.name());
        }
        let mut ts = Policy::new(PolicyKind::Thompson, k, n).unwrap();
        let est = monte_carlo(&mut ts, k, n, 10_000, Seed(13));
        assert!(
            est.mean <= v + 3.0 * est.std_error,
            "K {k} n {n}: Thompson {est:?} above {v}"
        );
    }
    // Strictly above random and greedy where exploring matters.
    let (k, n) = (3, 8);
    let v = value(k, n);
    for kind in [PolicyKind::Random, PolicyKind::Greedy, PolicyKind::Ucb1] {
        let mut p = Policy::new(kind, k, n).unwrap();
        assert!(
            exact_return(&mut p, k, n, BIG).unwrap() < v - 1e-3,
            "{}",
            kind.name()
        );
    }
}

#[test]
fn gittins_index_closed_forms_and_shape() {
    let g = GittinsTable::new(12, 2000).unwrap();
    // One pull left: the posterior mean.
    for s in 0..6 {
        for f in 0..5 {
            let mean = Counts {
                successes: s,
                failures: f,
            }
            .posterior_mean();
            let got = g.index(s as usize, f as usize, 1).unwrap();
            assert!((got - mean).abs() < 1e-12, "({s}, {f}): {got} vs {mean}");
        }
    }
    // Two pulls from the prior: indifference 2λ = 1/2 (1 + 2/3) + 1/2 λ gives λ = 5/9.
    assert!((g.index(0, 0, 2).unwrap() - 5.0 / 9.0).abs() < 1e-12);
    // The index adds the value of information: it grows with the pulls left.
    for s in 0..4 {
        for f in 0..4 {
            for m in 1..(12 - s - f) {
                let (a, b) = (g.index(s, f, m).unwrap(), g.index(s, f, m + 1).unwrap());
                assert!(b >= a - 1e-12, "({s}, {f}): {a} at {m}, {b} at {}", m + 1);
            }
        }
    }
    assert!(g.index(0, 0, 13).is_none() && g.index(6, 6, 1).is_none());
}
