//! The checker itself: it passes on correct gradients and fails, with a useful report, on a
//! deliberately wrong backward rule.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cloned_ref_to_slice_refs
)]

use std::rc::Rc;

use autodidact_core::ndarray::{arr1, ArrayD};
use autodidact_core::testing::{gradcheck, gradgradcheck, GradcheckOptions};
use autodidact_core::*;

/// `x³` with a backward rule off by `factor` (1 is correct).
struct Cube {
    factor: f64,
}

impl CustomOp<f64> for Cube {
    fn name(&self) -> &str {
        "cube"
    }
    fn forward(&self, inputs: &[&ArrayD<f64>]) -> ArrayD<f64> {
        inputs[0].mapv(|x| x * x * x)
    }
    fn backward(&self, inputs: &[Var<f64>], _output: Var<f64>, grad: Var<f64>) -> Vec<Var<f64>> {
        vec![grad * inputs[0].square() * (3.0 * self.factor)]
    }
}

fn cube(factor: f64) -> impl Fn(&[Var<f64>]) -> Var<f64> {
    move |v| Var::custom(Rc::new(Cube { factor }), &[v[0]])
}

#[test]
fn passes_on_a_correct_custom_op_to_second_order() {
    let x = arr1(&[0.5, -1.2, 2.0]).into_dyn();
    gradcheck(
        "cube",
        cube(1.0),
        &[x.clone()],
        &GradcheckOptions::default(),
    )
    .unwrap();
    gradgradcheck("cube", cube(1.0), &[x], &GradcheckOptions::default()).unwrap();
}

#[test]
fn fails_with_a_useful_report_on_a_wrong_backward_rule() {
    let x = arr1(&[0.5, -1.2, 2.0]).into_dyn();
    let err = gradcheck("cube", cube(1.5), &[x], &GradcheckOptions::default()).unwrap_err();
    assert_eq!(err.input, 0);
    assert_eq!(err.index, vec![0]);
    assert!((err.analytic / err.numerical - 1.5).abs() < 1e-4, "{err}");
    assert!((err.rel_error - 0.5).abs() < 1e-4);
    let msg = err.to_string();
    assert!(
        msg.contains("`cube`") && msg.contains("input 0") && msg.contains("element [0]"),
        "{msg}"
    );
    assert!(
        msg.contains("analytic") && msg.contains("numerical") && msg.contains("relative error"),
        "{msg}"
    );
}

#[test]
fn second_order_check_catches_a_wrong_rule_the_first_order_misses() {
    // Correct first derivative, but written with a detached input: the second derivative is lost.
    struct Detached;
    impl CustomOp<f64> for Detached {
        fn name(&self) -> &str {
            "cube-detached"
        }
        fn forward(&self, inputs: &[&ArrayD<f64>]) -> ArrayD<f64> {
            inputs[0].mapv(|x| x * x * x)
        }
        fn backward(&self, inputs: &[Var<f64>], _o: Var<f64>, grad: Var<f64>) -> Vec<Var<f64>> {
            vec![grad * inputs[0].detach().square() * 3.0]
        }
    }
    let f = |v: &[Var<f64>]| Var::custom(Rc::new(Detached), &[v[0]]);
    let x = arr1(&[0.5, -1.2]).into_dyn();
    gradcheck(
        "cube-detached",
        f,
        &[x.clone()],
        &GradcheckOptions::default(),
    )
    .unwrap();
    let err = gradgradcheck("cube-detached", f, &[x], &GradcheckOptions::default()).unwrap_err();
    assert_eq!(err.what, "Hessian-vector product");
}
