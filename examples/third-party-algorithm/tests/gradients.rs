//! The episode loss's gradient, checked against central finite differences with core's public
//! `testing` API (the way core checks its own ops), on random shapes and values.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use autodidact_core::testing::strategies::{arb_labels, arb_tensor_with_shape};
use autodidact_core::testing::{gradcheck, gradgradcheck, GradcheckOptions};
use autodidact_core::{Tensor, Var};
use proptest::prelude::*;
use third_party_algorithm::{episode_loss, prototype_matrix};

/// `(ways, W, support_x, query_x, support_y, query_y)`.
type Episode = (
    usize,
    Tensor<f64>,
    Tensor<f64>,
    Tensor<f64>,
    Vec<usize>,
    Vec<usize>,
);

/// A random episode: 2–3 ways, 1–2 shots, 1–4 queries, input and embedding sizes 1–3.
fn arb_episode() -> impl Strategy<Value = Episode> {
    (2usize..4, 1usize..3, 1usize..5, 1usize..4, 1usize..4).prop_flat_map(
        |(ways, shots, queries, dim, emb)| {
            let n_s = ways * shots;
            // Every class has `shots` support examples, in a shuffled order.
            let support_y = Just((0..n_s).map(|i| i % ways).collect::<Vec<_>>()).prop_shuffle();
            (
                Just(ways),
                arb_tensor_with_shape(vec![dim, emb], -1.0..1.0),
                arb_tensor_with_shape(vec![n_s, dim], -2.0..2.0),
                arb_tensor_with_shape(vec![queries, dim], -2.0..2.0),
                support_y,
                arb_labels(queries, ways),
            )
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// d loss / d (W, support, query) against finite differences.
    #[test]
    fn episode_loss_gradient((ways, w, sx, qx, sy, qy) in arb_episode()) {
        let protos = prototype_matrix::<f64>(&sy, ways).unwrap();
        gradcheck(
            "linear-protonet episode loss",
            |v| episode_loss(v[0], v[1], v[2], Var::constant(protos.clone()), &qy),
            &[w, sx, qx],
            &GradcheckOptions::default(),
        )?;
    }

    /// Hessian-vector products in W: the loss is smooth, so second-order methods built on it
    /// (a MAML-style inner loop through the embedding) get exact curvature.
    #[test]
    fn episode_loss_second_order((ways, w, sx, qx, sy, qy) in arb_episode()) {
        let protos = prototype_matrix::<f64>(&sy, ways).unwrap();
        gradgradcheck(
            "linear-protonet episode loss (Hessian-vector)",
            |v| {
                let (s, q) = (Var::constant(sx.clone()), Var::constant(qx.clone()));
                episode_loss(v[0], s, q, Var::constant(protos.clone()), &qy)
            },
            &[w],
            &GradcheckOptions { atol: 1e-4, rtol: 1e-3, ..GradcheckOptions::default() },
        )?;
    }
}
