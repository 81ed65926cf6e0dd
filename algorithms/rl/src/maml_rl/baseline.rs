//! The linear feature baseline of Duan et al. 2016 (rllab's `LinearFeatureBaseline`), which
//! Finn et al.'s MAML-RL fits per task: features `[o, o², t/100, (t/100)², (t/100)³, 1]`
//! (observations clipped to ±10), fitted to the discounted returns by ridge regression
//! (`(FᵀF + cI) w = Fᵀ G`, `c` from 1e-5, ×10 while the solve fails).

use super::dice::discounted_returns;
use super::sampler::Episodes;
use crate::dp::linear_solve::solve;

fn features(e: &Episodes, row: usize, t: usize, out: &mut Vec<f64>) {
    let d = e.obs_dim;
    let o = &e.obs[row * d..(row + 1) * d];
    out.clear();
    out.extend(o.iter().map(|&x| f64::from(x).clamp(-10.0, 10.0)));
    out.extend(o.iter().map(|&x| f64::from(x).clamp(-10.0, 10.0).powi(2)));
    let a = t as f64 / 100.0;
    out.extend([a, a * a, a * a * a, 1.0]);
}

/// The baseline `b(s_t)` of every step, `[n · H]` (0 on padding), fitted on the same
/// episodes; all zeros if no ridge coefficient up to 1e5 gives a finite solution.
pub fn linear_feature_baseline(e: &Episodes, gamma: f64) -> Vec<f64> {
    let (n, h) = (e.n, e.horizon);
    let returns = discounted_returns(n, h, &e.rewards, &e.mask, gamma);
    let k = 2 * e.obs_dim + 4;
    let mut ftf = vec![0.0; k * k];
    let mut ftg = vec![0.0; k];
    let mut f = Vec::with_capacity(k);
    for i in 0..n {
        for t in 0..e.lengths[i] {
            let row = i * h + t;
            features(e, row, t, &mut f);
            for a in 0..k {
                ftg[a] += f[a] * returns[row];
                let fa = f[a];
                if fa == 0.0 {
                    continue;
                }
                for b in 0..k {
                    ftf[a * k + b] += fa * f[b];
                }
            }
        }
    }
    let mut reg = 1e-5;
    let mut coef = None;
    for _ in 0..11 {
        let mut m = ftf.clone();
        for a in 0..k {
            m[a * k + a] += reg;
        }
        if let Ok(w) = solve(&m, &ftg, k) {
            coef = Some(w);
            break;
        }
        reg *= 10.0;
    }
    let mut out = vec![0.0; n * h];
    let Some(w) = coef else { return out };
    for i in 0..n {
        for t in 0..e.lengths[i] {
            let row = i * h + t;
            features(e, row, t, &mut f);
            out[row] = f.iter().zip(&w).map(|(a, b)| a * b).sum();
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn fits_returns_that_are_linear_in_the_features() {
        // One-dimensional observations x_t = t; reward 1 per step, γ = 1: G_t = L − t, which
        // the features (t/100 and 1) represent exactly.
        let (n, h) = (3, 5);
        let mut e = Episodes {
            n,
            horizon: h,
            obs_dim: 1,
            act_dim: 1,
            obs: vec![0.0; n * h],
            actions: vec![0.0; n * h],
            rewards: vec![0.0; n * h],
            mask: vec![0.0; n * h],
            lengths: vec![5, 5, 5],
            env_limit: None,
            optimal_return: None,
        };
        for i in 0..n {
            for t in 0..h {
                e.obs[i * h + t] = t as f32;
                e.rewards[i * h + t] = 1.0;
                e.mask[i * h + t] = 1.0;
            }
        }
        let b = linear_feature_baseline(&e, 1.0);
        for t in 0..h {
            assert!((b[t] - (5 - t) as f64).abs() < 1e-3, "{t}: {}", b[t]);
        }
    }
}
