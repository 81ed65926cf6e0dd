//! A model-based learner's network: an input embedding, the LSTM controller, MANN's memory
//! when on, and the output layer; run over a batch of late-label episodes.

use autodidact_core::layers::{Backbone, BackboneSpec};
use autodidact_core::{
    cross_entropy, Activation, BatchNormMode, BatchNormStats, Float, Init, Linear, LstmCell,
    Params, Rng, Tensor, Var,
};
use ndarray::IxDyn;
use serde::{Deserialize, Serialize};

use crate::errors::{ModelBasedError, Result};
use crate::hyperparams::ModelBasedParams;
use crate::mann::Mann;
use crate::sequence::SequenceBatch;

/// Which model-based method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    /// Memory-augmented neural network (Santoro et al. 2016).
    Mann,
    /// The LSTM without memory (the paper's reference).
    Lstm,
}

impl Method {
    /// The registry name.
    pub fn name(self) -> &'static str {
        match self {
            Method::Mann => "mann",
            Method::Lstm => "lstm-learner",
        }
    }
}

/// What one forward pass over a batch of episodes gives.
#[derive(Clone, Copy, Debug)]
pub struct Output<T: Float> {
    /// Mean cross-entropy over every step of every episode.
    pub loss: Var<T>,
    /// `[steps · batch, ways]` logits, step-major like the batch.
    pub logits: Var<T>,
}

/// A recurrent few-shot classifier over late-label sequences.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// The method.
    pub method: Method,
    /// The input embedding `e(x)`.
    pub backbone: Backbone,
    /// The LSTM controller.
    pub controller: LstmCell,
    /// MANN's memory interface (`None` for the LSTM learner).
    pub mann: Option<Mann>,
    /// `[h_t, r_t] → ways` logits.
    pub output: Linear,
    /// Classes per episode (label input and output width).
    pub ways: usize,
}

impl Model {
    /// Builds the model for `ways` classes of inputs of `input_shape`, adding its parameters to
    /// `params`.
    pub fn build<T: Float>(
        method: Method,
        hp: &ModelBasedParams,
        input_shape: &[usize],
        ways: usize,
        params: &mut Params<T>,
        rng: &mut Rng,
    ) -> Result<Model> {
        let spec = BackboneSpec {
            kind: hp.backbone,
            hidden: hp.hidden.clone(),
            activation: Activation::Relu,
            init: Init::KaimingUniform,
            filters: hp.filters,
            out_dim: Some(hp.embedding_dim),
            layer_norm: false,
        };
        let backbone = Backbone::build(&spec, input_shape, "embedding", params, rng)?;
        let mann = (method == Method::Mann).then(|| {
            Mann::new(
                params,
                hp.controller_hidden,
                hp.memory_slots,
                hp.memory_width,
                hp.read_heads,
                hp.gamma,
                hp.key_strength == crate::hyperparams::KeyStrength::Learned,
                rng,
            )
        });
        let read_dim = mann.as_ref().map_or(0, Mann::read_dim);
        let in_dim = backbone.out_dim() + ways + read_dim;
        let controller = crate::lstm::controller(params, in_dim, hp.controller_hidden, rng);
        let output = Linear::new(
            params,
            "output",
            hp.controller_hidden + read_dim,
            ways,
            true,
            Init::XavierUniform,
            rng,
        );
        Ok(Model {
            method,
            backbone,
            controller,
            mann,
            output,
            ways,
        })
    }

    /// Fresh batch-norm running statistics (Conv4 only).
    pub fn new_stats<T: Float>(&self) -> Vec<BatchNormStats<T>> {
        self.backbone.new_stats()
    }

    /// Runs every episode of `batch` step by step; batch norm (Conv4) as `mode` says.
    pub fn forward<T: Float>(
        &self,
        p: &[Var<T>],
        batch: &SequenceBatch,
        mode: BatchNormMode,
        stats: &mut [BatchNormStats<T>],
    ) -> Result<Output<T>> {
        if batch.ways != self.ways {
            return Err(ModelBasedError::Incompatible(format!(
                "the model was built for {}-class episodes; this batch has {} classes",
                self.ways, batch.ways
            )));
        }
        let (b, steps) = (batch.batch, batch.steps);
        let cast = |x: &Tensor<f32>| x.mapv(|v| T::of(f64::from(v)));
        // Every input embedded in one pass: the embedding does not depend on the sequence.
        let st = if stats.is_empty() { None } else { Some(stats) };
        let emb = self
            .backbone
            .forward(p, Var::constant(cast(&batch.x)), mode, st);
        let prev = Var::constant(cast(&batch.prev_one_hot));
        let hidden = self.controller.hidden;
        let mut h = Var::constant(Tensor::zeros(IxDyn(&[b, hidden])));
        let mut c = h;
        let mut memory = self.mann.as_ref().map(|m| m.start::<T>(b));
        let mut logits = Vec::with_capacity(steps);
        for t in 0..steps {
            let e_t = emb.narrow(0, t * b, b);
            let y_t = prev.narrow(0, t * b, b);
            let features = match (&self.mann, memory.as_mut()) {
                (Some(m), Some((state, usage))) => {
                    let input = Var::concat(&[e_t, y_t, m.controller_input(state)], 1);
                    (h, c) = crate::lstm::step(&self.controller, p, input, h, c);
                    let (next, u, reads) = m.step(p, h, state, usage);
                    (*state, *usage) = (next, u);
                    Var::concat(&[h, reads], 1)
                }
                _ => {
                    let input = Var::concat(&[e_t, y_t], 1);
                    (h, c) = crate::lstm::step(&self.controller, p, input, h, c);
                    h
                }
            };
            logits.push(self.output.forward(p, features));
        }
        let logits = Var::concat(&logits, 0);
        let loss = cross_entropy(logits, &batch.labels);
        Ok(Output { loss, logits })
    }
}
