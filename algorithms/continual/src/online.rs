//! The online protocol (the setting of Javed and White 2019 and Riemer et al. 2019): on a
//! stream marked online (`--set env.online=true`), one training step is one incoming example,
//! learnt once, in the stream's order (classes arriving one after another). Every strategy runs
//! in it unchanged — Naive, EWC, SI, LwF, Replay, A-GEM, Joint (the i.i.d. upper bound over the
//! same examples, [`crate::joint`]) and MER — so the comparison is like for like:
//!
//! - each step's minibatch is the incoming example plus the strategy's memory sample
//!   (`replay_batch` examples for Replay and Joint), one optimiser step;
//! - memories (Replay, A-GEM, MER, Joint) are offered each example right after its update;
//! - at the end of each experience (a block of classes) the strategy consolidates (EWC's
//!   Fisher on that block, SI's importance, LwF's copy) and the learner evaluates: a row of
//!   R[i][j] (ACC, BWT, forgetting per block), and a point of the curve of accuracy on
//!   everything seen so far against the number of classes seen, on the stream's own training
//!   examples (what the learner still remembers of what it was shown) and on held-out test
//!   examples (what it generalises).

use autodidact_core::{no_grad, Metrics, Params, Tape};
use serde::{Deserialize, Serialize};

use crate::data::{Batch, ExperienceData, StreamData};
use crate::metrics::AccuracyMatrix;
use crate::strategy::Objective;

/// One point of the online curve, after an experience.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// The experience just finished.
    pub experience: usize,
    /// Classes seen so far.
    pub classes_seen: usize,
    /// Accuracy on the test examples of every class seen so far (pooled).
    pub test_acc: f64,
    /// Accuracy on the training examples of every class seen so far (pooled).
    pub train_acc: f64,
}

/// The online protocol's running state: the loss over the current block and the curve.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OnlineProgress {
    /// Sum of the task losses over the current block.
    pub loss_sum: f64,
    /// Sum of the penalties over the current block.
    pub penalty_sum: f64,
    /// Examples in the current block so far.
    pub examples: u64,
    /// One point per finished experience.
    pub curve: Vec<CurvePoint>,
}

impl OnlineProgress {
    /// Adds one example's loss and penalty.
    pub fn add_loss(&mut self, loss: f64, penalty: f64) {
        self.loss_sum += loss;
        self.penalty_sum += penalty;
        self.examples += 1;
    }

    /// The block's mean loss (and penalty, if any), and a fresh block.
    pub fn take_loss(&mut self) -> Metrics {
        let n = self.examples.max(1) as f64;
        let mut m = Metrics::new();
        m.insert("loss".into(), self.loss_sum / n);
        if self.penalty_sum != 0.0 {
            m.insert("penalty".into(), self.penalty_sum / n);
        }
        self.loss_sum = 0.0;
        self.penalty_sum = 0.0;
        self.examples = 0;
        m
    }

    /// The latest curve point (`classes_seen`, `seen_test_acc`, `seen_train_acc`) and the
    /// forgetting of each block (`forgetting_block_j`); nothing before the first block ends.
    pub fn to_metrics(&self, matrix: &AccuracyMatrix) -> Metrics {
        let mut m = Metrics::new();
        if let Some(p) = self.curve.last() {
            m.insert("classes_seen".into(), p.classes_seen as f64);
            m.insert("seen_test_acc".into(), p.test_acc);
            m.insert("seen_train_acc".into(), p.train_acc);
            for (j, f) in matrix.forgetting_per_experience().iter().enumerate() {
                m.insert(format!("forgetting_block_{j}"), *f);
            }
        }
        m
    }
}

/// Correct predictions of the current model on an experience's training or test examples.
pub fn correct_on(
    obj: &Objective<'_>,
    params: &Params<f32>,
    exp: &ExperienceData,
    test: bool,
    eval_batch: usize,
) -> usize {
    let n = if test {
        exp.test.len()
    } else {
        exp.train.len()
    };
    let all: Vec<usize> = (0..n).collect();
    no_grad(|| {
        all.chunks(eval_batch.max(1))
            .map(|chunk| {
                let tape = Tape::<f32>::new();
                let vars = tape.params(params);
                let batch = Batch::gather(exp, chunk, test);
                let x = obj.model.input(&batch.x, batch.len());
                let h = obj.features(&vars, x);
                let c = obj.model.correct(&vars, h, &obj.routing(&batch));
                drop(tape);
                c
            })
            .sum()
    })
}

/// The curve point after experience `e`: pooled test accuracy from R's row `e` (weighted by
/// each experience's test examples) and pooled accuracy on the training examples seen.
pub fn curve_point(
    obj: &Objective<'_>,
    params: &Params<f32>,
    e: usize,
    eval_batch: usize,
    matrix: &AccuracyMatrix,
) -> CurvePoint {
    let seen = obj.seen.iter().filter(|&&s| s).count();
    curve_point_by(obj.data, seen, e, matrix, |x| {
        correct_on(obj, params, x, false, eval_batch)
    })
}

/// [`curve_point`] for any model: `train_correct(x)` counts its right predictions on the
/// training examples of experience `x`.
pub fn curve_point_by(
    data: &StreamData,
    classes_seen: usize,
    e: usize,
    matrix: &AccuracyMatrix,
    mut train_correct: impl FnMut(&ExperienceData) -> usize,
) -> CurvePoint {
    let exps = &data.experiences[..=e];
    let (mut test_hit, mut test_n) = (0.0, 0usize);
    for (j, x) in exps.iter().enumerate() {
        test_hit += matrix.get(e, j) * x.test.len() as f64;
        test_n += x.test.len();
    }
    let train_hit: usize = exps.iter().map(&mut train_correct).sum();
    let train_n: usize = exps.iter().map(|x| x.train.len()).sum();
    CurvePoint {
        experience: e,
        classes_seen,
        test_acc: test_hit / test_n.max(1) as f64,
        train_acc: train_hit as f64 / train_n.max(1) as f64,
    }
}
