//! Shows what a failing gradient check reports: a custom op whose backward rule is off by a
//! factor of 1.5 (`cargo run -p autodidact-core --features testing --example failing_gradcheck`).
#![allow(missing_docs)]

use std::rc::Rc;

use autodidact_core::ndarray::{arr1, ArrayD};
use autodidact_core::testing::{gradcheck, GradcheckOptions};
use autodidact_core::{CustomOp, Var};

/// `x³` with a wrong backward rule (`4.5 x²` instead of `3 x²`).
struct WrongCube;

impl CustomOp<f64> for WrongCube {
    fn name(&self) -> &str {
        "wrong_cube"
    }
    fn forward(&self, inputs: &[&ArrayD<f64>]) -> ArrayD<f64> {
        inputs[0].mapv(|x| x * x * x)
    }
    fn backward(&self, inputs: &[Var<f64>], _output: Var<f64>, grad: Var<f64>) -> Vec<Var<f64>> {
        vec![grad * inputs[0].square() * 4.5]
    }
}

fn main() {
    let x = arr1(&[0.5, -1.2, 2.0]).into_dyn();
    let report = gradcheck(
        "wrong_cube",
        |v| Var::custom(Rc::new(WrongCube), &[v[0]]),
        &[x],
        &GradcheckOptions::default(),
    );
    match report {
        Ok(()) => println!("gradcheck passed"),
        Err(e) => println!("{e}"),
    }
}
