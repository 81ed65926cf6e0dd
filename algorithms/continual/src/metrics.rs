//! The accuracy matrix and the continual-learning metrics computed from it (Lopez-Paz and
//! Ranzato 2017; Chaudhry et al. 2018).
//!
//! `R[i][j]` is the test accuracy on experience `j` after training on experience `i`, and `b[j]`
//! that of the randomly initialised model. With `T` experiences trained so far:
//!
//! - ACC = (1/T) Σⱼ R[T−1][j];
//! - BWT = 1/(T−1) Σ_{j<T−1} (R[T−1][j] − R[j][j]) (negative: forgetting);
//! - FWT = 1/(T−1) Σ_{j≥1} (R[j−1][j] − b[j]);
//! - forgetting = 1/(T−1) Σ_{j<T−1} max_{l<T−1} (R[l][j] − R[T−1][j]) (Chaudhry et al.'s
//!   maximum over the history).
//!
//! With a single experience BWT, FWT and forgetting are 0.

use autodidact_core::Metrics;
use serde::{Deserialize, Serialize};

/// The accuracy matrix of a stream of `n` experiences, filled one row per trained experience.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AccuracyMatrix {
    /// Number of experiences in the stream (row length).
    pub experiences: usize,
    /// Accuracies of the randomly initialised model, `b[j]`.
    pub init: Vec<f64>,
    /// Filled rows, `R[i][j]`, `i` = experiences trained so far − 1.
    pub rows: Vec<Vec<f64>>,
}

impl AccuracyMatrix {
    /// An empty matrix with the random-init accuracies `init` (one per experience).
    pub fn new(init: Vec<f64>) -> Self {
        AccuracyMatrix {
            experiences: init.len(),
            init,
            rows: Vec::new(),
        }
    }

    /// A matrix from given rows and random-init accuracies (for tests and re-analysis).
    pub fn from_rows(init: Vec<f64>, rows: Vec<Vec<f64>>) -> Self {
        AccuracyMatrix {
            experiences: init.len(),
            init,
            rows,
        }
    }

    /// Appends the row of accuracies after training on the next experience.
    pub fn push_row(&mut self, row: Vec<f64>) {
        self.rows.push(row);
    }

    /// Experiences trained so far (filled rows).
    pub fn trained(&self) -> usize {
        self.rows.len()
    }

    /// `R[i][j]`.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.rows[i][j]
    }

    /// Average accuracy over the experiences trained so far, after the latest one.
    pub fn acc(&self) -> f64 {
        let t = self.trained();
        if t == 0 {
            return 0.0;
        }
        (0..t).map(|j| self.get(t - 1, j)).sum::<f64>() / t as f64
    }

    /// Backward transfer.
    pub fn bwt(&self) -> f64 {
        let t = self.trained();
        if t < 2 {
            return 0.0;
        }
        (0..t - 1)
            .map(|j| self.get(t - 1, j) - self.get(j, j))
            .sum::<f64>()
            / (t - 1) as f64
    }

    /// Forward transfer against the random-init accuracies.
    pub fn fwt(&self) -> f64 {
        let t = self.trained();
        if t < 2 {
            return 0.0;
        }
        (1..t)
            .map(|j| self.get(j - 1, j) - self.init[j])
            .sum::<f64>()
            / (t - 1) as f64
    }

    /// Forgetting of each experience but the latest: the best accuracy it ever had (before the
    /// latest experience) minus its accuracy now.
    pub fn forgetting_per_experience(&self) -> Vec<f64> {
        let t = self.trained();
        if t < 2 {
            return Vec::new();
        }
        (0..t - 1)
            .map(|j| {
                let best = (0..t - 1)
                    .map(|l| self.get(l, j))
                    .fold(f64::NEG_INFINITY, f64::max);
                best - self.get(t - 1, j)
            })
            .collect()
    }

    /// Mean forgetting.
    pub fn forgetting(&self) -> f64 {
        let f = self.forgetting_per_experience();
        if f.is_empty() {
            0.0
        } else {
            f.iter().sum::<f64>() / f.len() as f64
        }
    }

    /// `R[i][i]` for every trained experience: how well each new experience was learnt.
    pub fn diagonal(&self) -> Vec<f64> {
        (0..self.trained()).map(|i| self.get(i, i)).collect()
    }

    /// `acc`, `bwt`, `fwt`, `forgetting`, `experiences_trained`, every `r_i_j`, every
    /// `just_trained_i` (= R[i][i]) and every `init_acc_j`.
    pub fn to_metrics(&self) -> Metrics {
        let mut m = Metrics::new();
        m.insert("acc".into(), self.acc());
        m.insert("bwt".into(), self.bwt());
        m.insert("fwt".into(), self.fwt());
        m.insert("forgetting".into(), self.forgetting());
        m.insert("experiences_trained".into(), self.trained() as f64);
        for (i, row) in self.rows.iter().enumerate() {
            for (j, &r) in row.iter().enumerate() {
                m.insert(format!("r_{i}_{j}"), r);
            }
            m.insert(format!("just_trained_{i}"), row[i]);
        }
        for (j, &b) in self.init.iter().enumerate() {
            m.insert(format!("init_acc_{j}"), b);
        }
        m
    }

    /// Rebuilds the filled rows from metrics holding `r_i_j` keys (a `summary.json`'s
    /// `final_metrics`); `None` when there is none.
    pub fn rows_from_metrics<'a>(
        metrics: impl IntoIterator<Item = (&'a String, &'a f64)>,
    ) -> Option<Vec<Vec<f64>>> {
        let mut cells = Vec::new();
        for (k, &v) in metrics {
            let Some(rest) = k.strip_prefix("r_") else {
                continue;
            };
            let mut parts = rest.split('_');
            let (Some(i), Some(j), None) = (parts.next(), parts.next(), parts.next()) else {
                continue;
            };
            if let (Ok(i), Ok(j)) = (i.parse::<usize>(), j.parse::<usize>()) {
                cells.push((i, j, v));
            }
        }
        if cells.is_empty() {
            return None;
        }
        let rows = cells.iter().map(|c| c.0).max().unwrap_or(0) + 1;
        let cols = cells.iter().map(|c| c.1).max().unwrap_or(0) + 1;
        let mut r = vec![vec![f64::NAN; cols]; rows];
        for (i, j, v) in cells {
            r[i][j] = v;
        }
        Some(r)
    }
}

/// Mean and half-width of a 95 % confidence interval (Student's t) over `xs`.
pub fn mean_ci95(xs: &[f64]) -> (f64, f64) {
    let n = xs.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return (mean, 0.0);
    }
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    (mean, t95(n - 1) * (var / n as f64).sqrt())
}

/// The two-sided 95 % quantile of Student's t with `df` degrees of freedom.
pub fn t95(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::NAN,
        d if d <= 30 => T[d - 1],
        _ => 1.96,
    }
}
