//! Each method's loss and prediction against a hand computation on a tiny episode, the
//! raw-feature baseline, and the confidence interval.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use autodidact_core::{mean_ci95, Params, Seed, Tape, Targets, Task, Tensor, Var};
use autodidact_metric::baseline::{nearest_prototype_accuracy, nearest_prototype_predictions};
use autodidact_metric::matching::{attention, matching_loss};
use autodidact_metric::proto::{proto_loss, prototypes, Distance};
use autodidact_metric::relation::{class_embeddings, relation_loss, RelationModule};
use ndarray::{arr2, IxDyn};

fn var(rows: &[&[f32]]) -> Var<f32> {
    let n = rows.len();
    let d = rows[0].len();
    let flat: Vec<f32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
    Var::constant(Tensor::from_shape_vec(IxDyn(&[n, d]), flat).unwrap())
}

fn near(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-5, "{a} vs {b}");
}

#[test]
fn prototypical_loss_and_prediction_by_hand() {
    let _t = Tape::<f32>::new();
    // Two classes, two shots: prototypes (1, 0) and (0, 3).
    let s = var(&[&[0.0, 0.0], &[2.0, 0.0], &[0.0, 2.0], &[0.0, 4.0]]);
    let sy = [0, 0, 1, 1];
    let p = prototypes(s, &sy, 2).value();
    assert_eq!(p, arr2(&[[1.0f32, 0.0], [0.0, 3.0]]).into_dyn());
    // Queries (1, 1) and (0, 2): squared distances [1, 5] and [5, 1].
    let q = var(&[&[1.0, 1.0], &[0.0, 2.0]]);
    let (loss, logits) = proto_loss(s, &sy, q, &[0, 1], 2, Distance::Euclidean, 1.0);
    assert_eq!(
        logits.value(),
        arr2(&[[-1.0f32, -5.0], [-5.0, -1.0]]).into_dyn()
    );
    near(loss.item(), (1.0 + (-4.0f64).exp()).ln());
    // Wrong labels: each query pays log(1 + e^4).
    let (loss, _) = proto_loss(s, &sy, q, &[1, 0], 2, Distance::Euclidean, 1.0);
    near(loss.item(), (1.0 + 4.0f64.exp()).ln());
    // Cosine with scale 2: cos((1,1),(1,0)) = 1/√2, cos((1,1),(0,3)) = 1/√2; (0,2): 0 and 1.
    let (loss, logits) = proto_loss(s, &sy, q, &[0, 1], 2, Distance::Cosine, 2.0);
    let r = 2f64.sqrt();
    let l = logits.value();
    near(l[[0, 0]] as f64, 2.0 / r);
    near(l[[0, 1]] as f64, 2.0 / r);
    near(l[[1, 0]] as f64, 0.0);
    near(l[[1, 1]] as f64, 2.0);
    let expected = (2f64.ln() + (1.0 + (-2.0f64).exp()).ln()) / 2.0;
    near(loss.item(), expected);
}

#[test]
fn matching_loss_and_prediction_by_hand() {
    let _t = Tape::<f32>::new();
    let s = var(&[&[1.0, 0.0], &[0.0, 1.0], &[3.0, 0.0]]);
    let sy = [0, 1, 0];
    let q = var(&[&[2.0, 1.0], &[0.0, 5.0]]);
    // Cosines: q0 → (2/√5, 1/√5, 2/√5); q1 → (0, 1, 0).
    let c0 = [2.0 / 5f64.sqrt(), 1.0 / 5f64.sqrt(), 2.0 / 5f64.sqrt()];
    let c1 = [0.0, 1.0, 0.0];
    let softmax = |c: [f64; 3]| {
        let z: f64 = c.iter().map(|v| v.exp()).sum();
        c.map(|v| v.exp() / z)
    };
    let (a0, a1) = (softmax(c0), softmax(c1));
    let att = attention(q, s, 1.0).value();
    for j in 0..3 {
        near(att[[0, j]] as f64, a0[j]);
        near(att[[1, j]] as f64, a1[j]);
    }
    // P(class 0 | q0) = a0[0] + a0[2]; P(class 1 | q1) = a1[1].
    let (loss, probs) = matching_loss(q, s, &sy, &[0, 1], 2, 1.0);
    let p = probs.value();
    near(p[[0, 0]] as f64, a0[0] + a0[2]);
    near(p[[0, 1]] as f64, a0[1]);
    near(p[[1, 1]] as f64, a1[1]);
    let nll = -((a0[0] + a0[2] + 1e-8).ln() + (a1[1] + 1e-8).ln()) / 2.0;
    near(loss.item(), nll);
    // Predictions: class 0 for q0, class 1 for q1.
    assert_eq!(probs.argmax(1).into_raw_vec_and_offset().0, vec![0, 1]);
}

#[test]
fn relation_loss_and_prediction_by_hand() {
    let mut params = Params::<f32>::new();
    let module = RelationModule::new(&mut params, 2, 1, false, &mut Seed(0).rng("init"));
    // relation(q, c) = σ(1.5 · relu(q·(1, -1) + c·(0.5, 0) + 0.1) - 1).
    params
        .assign(vec![
            arr2(&[[1.0f32], [-1.0], [0.5], [0.0]]).into_dyn(),
            Tensor::from_elem(IxDyn(&[1]), 0.1f32),
            arr2(&[[1.5f32]]).into_dyn(),
            Tensor::from_elem(IxDyn(&[1]), -1.0f32),
        ])
        .unwrap();
    let tape = Tape::<f32>::new();
    let p = tape.params(&params);
    let s = var(&[&[1.0, 0.0], &[1.0, 2.0], &[0.0, 1.0]]);
    let sy = [0, 0, 1];
    // Class embeddings are sums: (2, 2) and (0, 1).
    assert_eq!(
        class_embeddings(s, &sy, 2).value(),
        arr2(&[[2.0f32, 2.0], [0.0, 1.0]]).into_dyn()
    );
    let q = var(&[&[3.0, 1.0], &[0.0, 2.0]]);
    let qy = [0, 1];
    let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
    let rel = |q: [f64; 2], c: [f64; 2]| {
        let h = (q[0] - q[1] + 0.5 * c[0] + 0.1).max(0.0);
        sig(1.5 * h - 1.0)
    };
    let cls = [[2.0, 2.0], [0.0, 1.0]];
    let qs = [[3.0, 1.0], [0.0, 2.0]];
    let (loss, scores) = relation_loss(&module, &p, s, &sy, q, &qy, 2);
    let sc = scores.value();
    let mut mse = 0.0;
    for i in 0..2 {
        for c in 0..2 {
            let r = rel(qs[i], cls[c]);
            near(sc[[i, c]] as f64, r);
            let t = if qy[i] == c { 1.0 } else { 0.0 };
            mse += (r - t).powi(2) / 4.0;
        }
    }
    near(loss.item(), mse);
    // q0 scores higher with class 0 (relu(2 + 1 + 0.1) vs relu(2 + 0.1)).
    assert_eq!(scores.argmax(1)[[0]], 0);

    // Mean pooling: class 0's embedding is (1, 1), the mean of its two support rows.
    let mean_module = module.clone().with_mean_pooling(true);
    let (_, scores) = relation_loss(&mean_module, &p, s, &sy, q, &qy, 2);
    let sc = scores.value();
    let means = [[1.0, 1.0], [0.0, 1.0]];
    for i in 0..2 {
        for c in 0..2 {
            near(sc[[i, c]] as f64, rel(qs[i], means[c]));
        }
    }
}

#[test]
fn raw_feature_baseline_by_hand() {
    let task = Task {
        support_x: arr2(&[[0.0f32, 0.0], [2.0, 0.0], [10.0, 10.0]]).into_dyn(),
        support_y: Targets::Labels(vec![0, 0, 1]),
        query_x: arr2(&[[1.0f32, 1.0], [9.0, 9.0], [6.0, 5.0], [4.0, 4.0]]).into_dyn(),
        query_y: Targets::Labels(vec![0, 1, 1, 1]),
    };
    // Prototypes (1, 0) and (10, 10); (6, 5): 25 + 25 = 50 vs 16 + 25 = 41 → class 1;
    // (4, 4): 9 + 16 = 25 vs 36 + 36 = 72 → class 0 (wrong).
    assert_eq!(
        nearest_prototype_predictions(&task, 2).unwrap(),
        vec![0, 1, 1, 0]
    );
    near(nearest_prototype_accuracy(&task, 2).unwrap(), 0.75);
}

#[test]
fn confidence_interval_is_students_t() {
    let (m, ci) = mean_ci95(&[0.0, 1.0, 0.0, 1.0]);
    near(m, 0.5);
    // Sample sd = √(1/3); CI = t(0.975; 3) · sd / 2 with t = 3.182446.
    near(ci, 3.182_446 * (1.0f64 / 3.0).sqrt() / 2.0);
}

/// The relation tests' tiny episode: two query embeddings and two class embeddings.
const QS: [[f32; 3]; 2] = [[3.0, 1.0, -0.5], [0.0, 2.0, 1.0]];
const CLS: [[f32; 3]; 2] = [[2.0, 2.0, 0.0], [0.0, 1.0, -1.0]];

/// The distance a difference-initialised module computes between query `i` and class `j`, by
/// hand: squared Euclidean on `concat-sqdiff`, L1 on `concat`.
fn hand_distance(i: usize, j: usize, sqdiff: bool) -> f64 {
    (0..3)
        .map(|k| {
            let diff = (QS[i][k] - CLS[j][k]) as f64;
            if sqdiff {
                diff * diff
            } else {
                diff.abs()
            }
        })
        .sum()
}

#[test]
fn difference_initialised_relation_modules_start_as_distances() {
    let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
    let (qs, cls) = (QS, CLS);
    let s = 1.0 / 3f64.sqrt();
    for sqdiff in [false, true] {
        let mut params = Params::<f32>::new();
        let module = RelationModule::difference(&mut params, 3, sqdiff, &mut Seed(0).rng("init"))
            .with_mean_pooling(true);
        assert_eq!(module.mlp.layers[0].in_dim, if sqdiff { 9 } else { 6 });
        let tape = Tape::<f32>::new();
        let p = tape.params(&params);
        let q = var(&[&qs[0], &qs[1]]);
        let c = var(&[&cls[0], &cls[1]]);
        let sc = module.scores(&p, q, c).value();
        for i in 0..2 {
            for j in 0..2 {
                near(sc[[i, j]] as f64, sig(-s * hand_distance(i, j, sqdiff)));
            }
        }
    }
}

#[test]
fn calibrated_relation_modules_span_the_sigmoid_and_keep_the_ranking() {
    use autodidact_metric::relation::CALIBRATED_LOGIT;
    let (qs, cls) = (QS, CLS);
    for sqdiff in [false, true] {
        let mut params = Params::<f32>::new();
        let module = RelationModule::difference(&mut params, 3, sqdiff, &mut Seed(0).rng("init"))
            .with_mean_pooling(true);
        let dist = |i: usize, j: usize| hand_distance(i, j, sqdiff);
        let mean = (0..2)
            .flat_map(|i| (0..2).map(move |j| (i, j)))
            .map(|(i, j)| dist(i, j))
            .sum::<f64>()
            / 4.0;
        {
            let tape = Tape::<f32>::new();
            let p = tape.params(&params);
            let (q, c) = (var(&[&qs[0], &qs[1]]), var(&[&cls[0], &cls[1]]));
            module.calibrate(&mut params, &p, q, c);
        }
        let tape = Tape::<f32>::new();
        let p = tape.params(&params);
        let (q, c) = (var(&[&qs[0], &qs[1]]), var(&[&cls[0], &cls[1]]));
        let logits = module.logits(&p, q, c).value();
        // The hidden units now average 1 over the episode's pairs.
        let first = &module.mlp.layers[0];
        let hidden = first.forward(&p, module.pairs(q, c)).relu().value();
        near(hidden.mean().unwrap() as f64, 1.0);
        let k = CALIBRATED_LOGIT as f64;
        for i in 0..2 {
            for j in 0..2 {
                // κ·(1 − 2·d/d̄), by hand.
                let want = k * (1.0 - 2.0 * dist(i, j) / mean);
                assert!(
                    (logits[[i, j]] as f64 - want).abs() < 1e-4,
                    "sqdiff {sqdiff}: logit ({i}, {j}) {} vs {want}",
                    logits[[i, j]]
                );
            }
        }
    }
}
