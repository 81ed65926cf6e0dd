//! The untrained reference every learned method must beat: nearest prototype (each class's
//! mean support vector, squared Euclidean distance) on the raw input features.

use super::episode::Episode;

/// Query accuracy of the raw-feature nearest prototype on `ep`, with `ways` classes.
pub fn nearest_prototype_accuracy(ep: &Episode, ways: usize) -> f64 {
    let n = ep.x.shape().first().copied().unwrap_or(0);
    let d = ep.x.len().checked_div(n).unwrap_or(0);
    let x: Vec<f32> = ep.x.iter().copied().collect();
    let row = |i: usize| &x[i * d..(i + 1) * d];
    let mut protos = vec![0.0f64; ways * d];
    let mut counts = vec![0usize; ways];
    for (i, &c) in ep.support_labels.iter().enumerate() {
        counts[c] += 1;
        for (p, v) in protos[c * d..(c + 1) * d].iter_mut().zip(row(i)) {
            *p += f64::from(*v);
        }
    }
    for c in 0..ways {
        let k = counts[c].max(1) as f64;
        protos[c * d..(c + 1) * d].iter_mut().for_each(|p| *p /= k);
    }
    let ns = ep.n_support();
    let hits = ep
        .query_labels
        .iter()
        .enumerate()
        .filter(|&(j, &label)| {
            let q = row(ns + j);
            let dist = |c: usize| -> f64 {
                protos[c * d..(c + 1) * d]
                    .iter()
                    .zip(q)
                    .map(|(p, v)| (p - f64::from(*v)).powi(2))
                    .sum()
            };
            // Classes with no support example are never predicted.
            let best = (0..ways)
                .filter(|&c| counts[c] > 0)
                .min_by(|&a, &b| dist(a).total_cmp(&dist(b)));
            best == Some(label)
        })
        .count();
    hits as f64 / ep.query_labels.len().max(1) as f64
}
