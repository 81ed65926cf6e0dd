//! Full-context embeddings (Vinyals et al. 2016, appendix): the support embeddings are read by
//! a bidirectional LSTM, `g(xᵢ) = g'(xᵢ) + h⃗ᵢ + h⃖ᵢ`, and each query embedding is refined by an
//! attention LSTM over K processing steps,
//! `ĥₖ, cₖ = LSTM([f'(x), rₖ₋₁], hₖ₋₁, cₖ₋₁)`, `hₖ = ĥₖ + f'(x)`,
//! `rₖ = Σᵢ softmax(hₖᵀ g(xᵢ)) g(xᵢ)`, `f(x) = h_K` (the read vector enters as input, the
//! common reading of the paper's `[h, r]` state).

use autodidact_core::layers::LstmCell;
use autodidact_core::{Params, Rng, Var};
use serde::{Deserialize, Serialize};

/// The three LSTMs of full-context embeddings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FullContext {
    /// Forward LSTM over the support sequence.
    pub forward: LstmCell,
    /// Backward LSTM over the support sequence.
    pub backward: LstmCell,
    /// The query's attention LSTM (input `[f'(x), r]`).
    pub attention: LstmCell,
    /// Processing steps K.
    pub steps: usize,
    /// Embedding width D.
    pub dim: usize,
}

impl FullContext {
    /// Adds the LSTMs for embeddings of width `dim` to `params`.
    pub fn new(params: &mut Params<f32>, dim: usize, steps: usize, rng: &mut Rng) -> FullContext {
        FullContext {
            forward: LstmCell::new(params, "fce.support_fw", dim, dim, rng),
            backward: LstmCell::new(params, "fce.support_bw", dim, dim, rng),
            attention: LstmCell::new(params, "fce.query", 2 * dim, dim, rng),
            steps,
            dim,
        }
    }

    /// `g`: support embeddings `[n, D]` in context of the whole support set.
    pub fn support(&self, p: &[Var<f32>], emb: Var<f32>) -> Var<f32> {
        let n = emb.shape()[0];
        let rows: Vec<Var<f32>> = (0..n).map(|i| emb.narrow(0, i, 1)).collect();
        let run = |cell: &LstmCell, order: &mut dyn Iterator<Item = usize>| {
            let mut h = Var::zeros(&[1, self.dim]);
            let mut c = Var::zeros(&[1, self.dim]);
            let mut out = vec![None; n];
            for i in order {
                let (h2, c2) = cell.forward(p, rows[i], h, c);
                h = h2;
                c = c2;
                out[i] = Some(h);
            }
            out.into_iter().flatten().collect::<Vec<_>>()
        };
        let fw = run(&self.forward, &mut (0..n));
        let bw = run(&self.backward, &mut (0..n).rev());
        emb + Var::concat(&fw, 0) + Var::concat(&bw, 0)
    }

    /// `f`: query embeddings `[m, D]` after K attention steps over the contextual support `g`.
    pub fn query(&self, p: &[Var<f32>], emb: Var<f32>, g: Var<f32>) -> Var<f32> {
        let m = emb.shape()[0];
        let mut h = Var::zeros(&[m, self.dim]);
        let mut c = Var::zeros(&[m, self.dim]);
        let mut r = Var::zeros(&[m, self.dim]);
        for _ in 0..self.steps {
            let x = Var::concat(&[emb, r], 1);
            let (hh, c2) = self.attention.forward(p, x, h, c);
            h = hh + emb;
            c = c2;
            let a = h.matmul_nt(g).softmax(1);
            r = a.matmul(g);
        }
        h
    }
}
