//! The untrained baseline: nearest prototype (mean support vector per class, squared Euclidean
//! distance) on the raw input features, with no learning at all.

use autodidact_core::{Task, Tensor};

use crate::errors::{MetricError, Result};

/// Rows of a `[n, …]` tensor as flat slices (copied if not contiguous).
fn rows(x: &Tensor<f32>) -> (usize, usize, Vec<f32>) {
    let n = x.shape().first().copied().unwrap_or(0);
    let d = x.len().checked_div(n).unwrap_or(0);
    (n, d, x.iter().copied().collect())
}

/// Predicted labels of the query set by the nearest raw-feature prototype.
pub fn nearest_prototype_predictions(task: &Task, ways: usize) -> Result<Vec<usize>> {
    let sy = task
        .support_y
        .labels()
        .ok_or_else(|| MetricError::Incompatible("the baseline needs class labels".into()))?;
    let (ns, d, sx) = rows(&task.support_x);
    let (nq, dq, qx) = rows(&task.query_x);
    if ns != sy.len() || (nq > 0 && dq != d) {
        return Err(MetricError::Incompatible(format!(
            "support {:?} with {} labels, query {:?}",
            task.support_x.shape(),
            sy.len(),
            task.query_x.shape()
        )));
    }
    let mut protos = vec![0.0f64; ways * d];
    let mut counts = vec![0usize; ways];
    for (i, &y) in sy.iter().enumerate() {
        if y >= ways {
            return Err(MetricError::Incompatible(format!(
                "support label {y} is not below ways = {ways}"
            )));
        }
        counts[y] += 1;
        for (p, &x) in protos[y * d..(y + 1) * d]
            .iter_mut()
            .zip(&sx[i * d..(i + 1) * d])
        {
            *p += x as f64;
        }
    }
    for c in 0..ways {
        let k = counts[c].max(1) as f64;
        protos[c * d..(c + 1) * d].iter_mut().for_each(|p| *p /= k);
    }
    Ok((0..nq)
        .map(|q| {
            let x = &qx[q * d..(q + 1) * d];
            let mut best = (f64::INFINITY, 0);
            for c in 0..ways {
                if counts[c] == 0 {
                    continue;
                }
                let dist: f64 = protos[c * d..(c + 1) * d]
                    .iter()
                    .zip(x)
                    .map(|(p, &v)| (p - v as f64).powi(2))
                    .sum();
                if dist < best.0 {
                    best = (dist, c);
                }
            }
            best.1
        })
        .collect())
}

/// Query accuracy of the raw-feature nearest-prototype classifier on one episode.
pub fn nearest_prototype_accuracy(task: &Task, ways: usize) -> Result<f64> {
    let qy = task
        .query_y
        .labels()
        .ok_or_else(|| MetricError::Incompatible("the baseline needs class labels".into()))?;
    let pred = nearest_prototype_predictions(task, ways)?;
    let hits = pred.iter().zip(qy).filter(|(p, y)| p == y).count();
    Ok(hits as f64 / qy.len().max(1) as f64)
}
