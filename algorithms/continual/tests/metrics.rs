//! The metrics against a hand-computed accuracy matrix.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use autodidact_continual::metrics::{mean_ci95, AccuracyMatrix};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

/// R (3 experiences) and the random-init accuracies b.
fn example() -> AccuracyMatrix {
    AccuracyMatrix::from_rows(
        vec![0.1, 0.2, 0.3],
        vec![
            vec![0.9, 0.3, 0.2],
            vec![0.6, 0.8, 0.4],
            vec![0.5, 0.7, 0.95],
        ],
    )
}

#[test]
fn acc_bwt_fwt_forgetting_match_hand_computation() {
    let m = example();
    // ACC = (0.5 + 0.7 + 0.95) / 3.
    assert!(close(m.acc(), 2.15 / 3.0));
    // BWT = ((0.5 − 0.9) + (0.7 − 0.8)) / 2 = −0.25.
    assert!(close(m.bwt(), -0.25));
    // FWT = ((R[0][1] − b1) + (R[1][2] − b2)) / 2 = ((0.3 − 0.2) + (0.4 − 0.3)) / 2 = 0.1.
    assert!(close(m.fwt(), 0.1));
    // Forgetting: exp 0: max(0.9, 0.6) − 0.5 = 0.4; exp 1: max(0.3, 0.8) − 0.7 = 0.1.
    let f = m.forgetting_per_experience();
    assert!(close(f[0], 0.4) && close(f[1], 0.1), "{f:?}");
    assert!(close(m.forgetting(), 0.25));
    assert_eq!(m.diagonal(), vec![0.9, 0.8, 0.95]);
}

#[test]
fn partial_matrices_use_the_rows_so_far() {
    let mut m = AccuracyMatrix::new(vec![0.1, 0.2, 0.3]);
    assert_eq!(m.acc(), 0.0);
    m.push_row(vec![0.9, 0.3, 0.2]);
    assert!(close(m.acc(), 0.9));
    assert_eq!((m.bwt(), m.fwt(), m.forgetting()), (0.0, 0.0, 0.0));
    m.push_row(vec![0.6, 0.8, 0.4]);
    assert!(close(m.acc(), 0.7));
    assert!(close(m.bwt(), -0.3));
    assert!(close(m.fwt(), 0.1));
    assert!(close(m.forgetting(), 0.3));
}

#[test]
fn metrics_hold_the_matrix_and_it_reads_back() {
    let m = example();
    let metrics = m.to_metrics();
    for k in [
        "acc",
        "bwt",
        "fwt",
        "forgetting",
        "r_2_1",
        "just_trained_2",
        "init_acc_0",
    ] {
        assert!(metrics.contains_key(k), "{k}");
    }
    assert_eq!(metrics["r_1_2"], 0.4);
    assert_eq!(metrics["just_trained_1"], 0.8);
    assert_eq!(metrics["experiences_trained"], 3.0);
    assert_eq!(AccuracyMatrix::rows_from_metrics(&metrics).unwrap(), m.rows);
    let none = autodidact_core::Metrics::new();
    assert!(AccuracyMatrix::rows_from_metrics(&none).is_none());
}

#[test]
fn confidence_interval_is_students_t() {
    let (m, h) = mean_ci95(&[1.0, 2.0, 3.0, 4.0, 5.0]);
    assert!(close(m, 3.0));
    // sd = √2.5, t(4) = 2.776, half-width = 2.776 · √2.5 / √5.
    assert!((h - 2.776 * (2.5f64 / 5.0).sqrt()).abs() < 1e-9);
    assert_eq!(mean_ci95(&[0.7]), (0.7, 0.0));
}
