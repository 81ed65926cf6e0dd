//! The metrics against a hand-computed accuracy matrix.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use autodidact_continual::metrics::AccuracyMatrix;
use autodidact_core::mean_ci95;

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
fn metrics_summarise_and_the_matrix_stays_a_table() {
    let m = example();
    let metrics = m.to_metrics();
    for k in [
        "acc",
        "bwt",
        "fwt",
        "forgetting",
        "just_trained_2",
        "init_acc_0",
    ] {
        assert!(metrics.contains_key(k), "{k}");
    }
    // No cell of R is flattened into a key of its own.
    assert!(!metrics.keys().any(|k| k.starts_with("r_")), "{metrics:?}");
    assert_eq!(metrics["just_trained_1"], 0.8);
    assert_eq!(metrics["experiences_trained"], 3.0);
    let table = m.to_matrix();
    assert_eq!(table.len(), 3);
    assert_eq!(table[1][2], Some(0.4));
    assert_eq!(
        table
            .iter()
            .map(|r| r.iter().map(|c| c.unwrap()).collect::<Vec<_>>())
            .collect::<Vec<_>>(),
        m.rows
    );
    // Rows not trained yet are unfilled.
    let mut partial = AccuracyMatrix::new(vec![0.1, 0.2, 0.3]);
    partial.push_row(vec![0.9, 0.3, 0.2]);
    let t = partial.to_matrix();
    assert_eq!(t[0], vec![Some(0.9), Some(0.3), Some(0.2)]);
    assert_eq!(t[1], vec![None; 3]);
    assert_eq!(t[2], vec![None; 3]);
}

#[test]
fn confidence_interval_is_students_t() {
    let (m, h) = mean_ci95(&[1.0, 2.0, 3.0, 4.0, 5.0]);
    assert!(close(m, 3.0));
    // sd = √2.5, t(4) = 2.776445, half-width = 2.776445 · √2.5 / √5.
    assert!((h - 2.776_445 * (2.5f64 / 5.0).sqrt()).abs() < 1e-6);
    assert_eq!(mean_ci95(&[0.7]), (0.7, 0.0));
}
