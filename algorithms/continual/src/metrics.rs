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

use autodidact_core::{Matrix, Metrics};
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

    /// `acc`, `bwt`, `fwt`, `forgetting`, `experiences_trained`, every `just_trained_i`
    /// (= R[i][i]) and every `init_acc_j`. The matrix itself is not flattened into keys: it is
    /// [`AccuracyMatrix::to_matrix`].
    pub fn to_metrics(&self) -> Metrics {
        let mut m = Metrics::new();
        m.insert("acc".into(), self.acc());
        m.insert("bwt".into(), self.bwt());
        m.insert("fwt".into(), self.fwt());
        m.insert("forgetting".into(), self.forgetting());
        m.insert("experiences_trained".into(), self.trained() as f64);
        for (i, row) in self.rows.iter().enumerate() {
            m.insert(format!("just_trained_{i}"), row[i]);
        }
        for (j, &b) in self.init.iter().enumerate() {
            m.insert(format!("init_acc_{j}"), b);
        }
        m
    }

    /// R as a square `experiences × experiences` table, with the rows not trained yet unfilled
    /// (`None`).
    pub fn to_matrix(&self) -> Matrix {
        (0..self.experiences)
            .map(|i| {
                (0..self.experiences)
                    .map(|j| self.rows.get(i).and_then(|r| r.get(j)).copied())
                    .collect()
            })
            .collect()
    }
}
