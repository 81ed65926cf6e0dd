//! A dense LU factorisation with partial pivoting, for exact policy evaluation.

use crate::errors::{Result, RlError};

/// The LU factors of a square matrix, `P A = L U` (both stored in one row-major matrix).
#[derive(Clone, Debug)]
pub struct Lu {
    n: usize,
    lu: Vec<f64>,
    perm: Vec<usize>,
}

impl Lu {
    /// Factors the row-major `n × n` matrix `a`; an error if it is singular.
    pub fn factor(mut a: Vec<f64>, n: usize) -> Result<Lu> {
        if a.len() != n * n {
            return Err(RlError::Singular(format!(
                "{} entries for a {n} x {n} matrix",
                a.len()
            )));
        }
        let scale = a.iter().fold(0.0f64, |m, x| m.max(x.abs())).max(1e-300);
        let mut perm: Vec<usize> = (0..n).collect();
        for k in 0..n {
            let (mut p, mut best) = (k, a[k * n + k].abs());
            for i in k + 1..n {
                let v = a[i * n + k].abs();
                if v > best {
                    best = v;
                    p = i;
                }
            }
            if best <= 1e-13 * scale {
                return Err(RlError::Singular(format!(
                    "pivot {best:e} in column {k}: no unique solution"
                )));
            }
            if p != k {
                for j in 0..n {
                    a.swap(k * n + j, p * n + j);
                }
                perm.swap(k, p);
            }
            let pivot = a[k * n + k];
            for i in k + 1..n {
                let f = a[i * n + k] / pivot;
                if f == 0.0 {
                    continue;
                }
                a[i * n + k] = f;
                let (top, bottom) = a.split_at_mut(i * n);
                let row_k = &top[k * n + k + 1..k * n + n];
                for (x, &y) in bottom[k + 1..n].iter_mut().zip(row_k) {
                    *x -= f * y;
                }
            }
        }
        Ok(Lu { n, lu: a, perm })
    }

    /// Solves `A x = b`.
    pub fn solve(&self, b: &[f64]) -> Vec<f64> {
        let n = self.n;
        let mut x: Vec<f64> = self.perm.iter().map(|&i| b[i]).collect();
        for i in 0..n {
            let row = &self.lu[i * n..i * n + i];
            let s: f64 = row.iter().zip(&x[..i]).map(|(a, b)| a * b).sum();
            x[i] -= s;
        }
        for i in (0..n).rev() {
            let row = &self.lu[i * n + i + 1..(i + 1) * n];
            let s: f64 = row.iter().zip(&x[i + 1..]).map(|(a, b)| a * b).sum();
            x[i] = (x[i] - s) / self.lu[i * n + i];
        }
        x
    }
}

/// Solves the row-major system `A x = b` with one round of iterative refinement.
pub fn solve(a: &[f64], b: &[f64], n: usize) -> Result<Vec<f64>> {
    let lu = Lu::factor(a.to_vec(), n)?;
    let mut x = lu.solve(b);
    let r: Vec<f64> = (0..n)
        .map(|i| {
            let ax: f64 = a[i * n..(i + 1) * n]
                .iter()
                .zip(&x)
                .map(|(p, q)| p * q)
                .sum();
            b[i] - ax
        })
        .collect();
    let d = lu.solve(&r);
    for (xi, di) in x.iter_mut().zip(d) {
        *xi += di;
    }
    if x.iter().any(|v| !v.is_finite()) {
        return Err(RlError::Singular("the solution is not finite".into()));
    }
    Ok(x)
}
