//! The embedding head the agent learns on top of the sentence features: a residual low-rank
//! map followed by L2 normalisation, `z = normalise(x + (x A) B)`.
//!
//! `B` starts at zero, so a new head is the identity on unit features: the bootstrap model
//! before any training is exactly the nearest prototype on the raw features, and training
//! only has to learn a correction. Low rank keeps the head small for the wide hashed
//! features (4,096 × 64 × 2 numbers) and is enough to pull an intent's paraphrases together.

use autodidact_core::layers::bert::l2_normalize;
use autodidact_core::{Params, Rng, Tensor, Var};
use ndarray::{Array2, ArrayView2, Ix2, IxDyn};
use rand_distr::{Distribution, Normal};

use crate::error::{AgentError, Result};
use crate::features::Row;

/// Parameter names in the store (and in the saved blob).
const A: &str = "head.a";
const B: &str = "head.b";

/// The head's weights: `a` is `[dim, rank]`, `b` is `[rank, dim]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Head {
    params: Params<f32>,
    dim: usize,
    rank: usize,
}

impl Head {
    /// A new head, the identity map (`b = 0`), with `a` drawn N(0, 1/dim) from `rng`.
    pub fn new(dim: usize, rank: usize, rng: &mut Rng) -> Result<Head> {
        if dim == 0 || rank == 0 {
            return Err(AgentError::config(
                "consolidation.rank",
                format!("a head needs a positive width and rank (dim {dim}, rank {rank})"),
            ));
        }
        let normal = Normal::new(0.0f32, (1.0 / dim as f32).sqrt())
            .map_err(|e| AgentError::Internal(e.to_string()))?;
        let a = Array2::from_shape_simple_fn((dim, rank), || normal.sample(rng)).into_dyn();
        let mut params = Params::new();
        params.insert(A, a);
        params.insert(B, Tensor::zeros(IxDyn(&[rank, dim])));
        Ok(Head { params, dim, rank })
    }

    /// Rebuilds a head from stored parameters, checking their names and shapes.
    pub fn from_params(params: Params<f32>) -> Result<Head> {
        let bad = |why: String| AgentError::State(format!("model head: {why}"));
        if params.names() != [A, B] {
            return Err(bad(format!(
                "tensors {:?}, expected [{A}, {B}]",
                params.names()
            )));
        }
        let (a, b) = (&params.tensors()[0], &params.tensors()[1]);
        let (&[dim, rank], &[rank_b, dim_b]) = (a.shape(), b.shape()) else {
            return Err(bad(format!("shapes {:?} and {:?}", a.shape(), b.shape())));
        };
        if rank != rank_b || dim != dim_b || dim == 0 || rank == 0 || !params.all_finite() {
            return Err(bad(format!(
                "shapes {:?} and {:?} do not chain, or values are not finite",
                a.shape(),
                b.shape()
            )));
        }
        Ok(Head { params, dim, rank })
    }

    /// Feature width.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Rank of the correction.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The parameters (`head.a`, `head.b`).
    pub fn params(&self) -> &Params<f32> {
        &self.params
    }

    /// The parameters, to train them.
    pub(crate) fn params_mut(&mut self) -> &mut Params<f32> {
        &mut self.params
    }

    /// The differentiable map of `[n, dim]` features with parameters `p` (`[a, b]`).
    pub fn forward(p: &[Var<f32>], x: Var<f32>) -> Var<f32> {
        l2_normalize(x + x.matmul(p[0]).matmul(p[1]))
    }

    /// Embeds feature rows (the fast path: no tape). Row by row, so a row's embedding never
    /// depends on the others (batched and single requests agree bit for bit); `x A` skips the
    /// zero features (hashed n-grams are sparse) and neither product packs the weights (a
    /// general matrix product packed all of `A` for every single-row request).
    pub fn apply(&self, rows: &[&[f32]]) -> Vec<Vec<f32>> {
        let mut out = Vec::with_capacity(rows.len());
        self.for_each_embedded(rows.iter().copied(), |_, z| out.push(z.to_vec()));
        out
    }

    /// Embeds feature rows one at a time into one reused buffer and hands each embedding to
    /// `f` with the row's position: the same values as [`Head::apply`], without holding an
    /// embedding per row. A consolidation embeds every stored example several times (scores,
    /// prototypes, the classifier); collecting them held one more copy of the whole feature
    /// matrix each time (hundreds of MB with 4,096-wide hashed features).
    ///
    /// Rows may be dense or sparse ([`Row`]): both add the same non-zero terms in the same
    /// ascending order, so a sparse example embeds to the bits its dense form does.
    pub fn for_each_embedded<'r, R: Into<Row<'r>>>(
        &self,
        rows: impl IntoIterator<Item = R>,
        mut f: impl FnMut(usize, &[f32]),
    ) {
        let matrices = self.matrices();
        // Weights are stored in standard layout; anything else is copied once per call.
        let copied: Option<(Array2<f32>, Array2<f32>)> = matrices
            .as_ref()
            .filter(|(a, b)| a.to_slice().is_none() || b.to_slice().is_none())
            .map(|(a, b)| {
                (
                    a.as_standard_layout().into_owned(),
                    b.as_standard_layout().into_owned(),
                )
            });
        let weights: Option<(&[f32], &[f32], usize)> = match (&matrices, &copied) {
            (_, Some((a, b))) => Some((
                a.as_slice().unwrap_or(&[]),
                b.as_slice().unwrap_or(&[]),
                a.ncols(),
            )),
            (Some((a, b)), None) => Some((
                a.to_slice().unwrap_or(&[]),
                b.to_slice().unwrap_or(&[]),
                a.ncols(),
            )),
            (None, None) => None,
        };
        let mut z: Vec<f32> = Vec::with_capacity(self.dim);
        let mut h: Vec<f32> = Vec::new();
        for (i, x) in rows.into_iter().enumerate() {
            let x: Row<'r> = x.into();
            z.clear();
            z.resize(self.dim, 0.0);
            if x.dim() != self.dim {
                f(i, &z);
                continue;
            }
            x.write_into(&mut z);
            if let Some((a, b, rank)) = weights.filter(|w| w.2 > 0 && w.0.len() >= self.dim * w.2) {
                h.clear();
                h.resize(rank, 0.0);
                x.for_each_set(|j, xj| {
                    let a_row = &a[j * rank..(j + 1) * rank];
                    h.iter_mut().zip(a_row).for_each(|(hk, &ak)| *hk += xj * ak);
                });
                for (&hk, b_row) in h.iter().zip(b.chunks_exact(self.dim)) {
                    if hk != 0.0 {
                        z.iter_mut().zip(b_row).for_each(|(zj, &bj)| *zj += hk * bj);
                    }
                }
            }
            let norm = crate::classifier::dot(&z, &z).sqrt();
            if norm > 1e-12 {
                z.iter_mut().for_each(|v| *v /= norm);
            } else {
                z.iter_mut().for_each(|v| *v = 0.0);
            }
            f(i, &z);
        }
    }

    /// Embeds one feature vector.
    pub fn apply_one(&self, x: &[f32]) -> Vec<f32> {
        self.apply(&[x]).pop().unwrap_or_default()
    }

    /// `a` and `b` as matrices (shapes were checked at construction, so always `Some`).
    fn matrices(&self) -> Option<(ArrayView2<'_, f32>, ArrayView2<'_, f32>)> {
        let t = self.params.tensors();
        let a = t.first()?.view().into_dimensionality::<Ix2>().ok()?;
        let b = t.get(1)?.view().into_dimensionality::<Ix2>().ok()?;
        Some((a, b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use autodidact_core::rng::Seed;
    use autodidact_core::Tape;

    #[test]
    fn a_new_head_is_the_identity_on_unit_vectors() {
        let mut rng = Seed(1).rng("head");
        let h = Head::new(4, 2, &mut rng).unwrap();
        let x = [0.5f32, 0.5, 0.5, 0.5];
        let z = h.apply_one(&x);
        for (a, b) in z.iter().zip(&x) {
            assert!((a - b).abs() < 1e-6);
        }
    }

    #[test]
    fn fast_path_equals_the_differentiable_map() {
        let mut rng = Seed(2).rng("head");
        let mut h = Head::new(5, 3, &mut rng).unwrap();
        h.params_mut().tensors_mut()[1] =
            Array2::from_shape_fn((3, 5), |(i, j)| (i as f32 - j as f32) * 0.1).into_dyn();
        let rows = [[0.1f32, 0.2, 0.3, 0.4, 0.5], [1.0, 0.0, -1.0, 0.5, 0.0]];
        let fast = h.apply(&[&rows[0], &rows[1]]);
        let tape = Tape::<f32>::new();
        let p = tape.params(h.params());
        let x = Var::constant(
            Array2::from_shape_vec((2, 5), rows.concat())
                .unwrap()
                .into_dyn(),
        );
        let z = Head::forward(&p, x).value();
        for (i, row) in fast.iter().enumerate() {
            for (j, v) in row.iter().enumerate() {
                assert!((v - z[[i, j]]).abs() < 1e-5, "{i} {j}");
            }
        }
    }

    #[test]
    fn rows_are_embedded_one_by_one_as_a_batch_is() {
        let mut rng = Seed(4).rng("head");
        let mut h = Head::new(4, 2, &mut rng).unwrap();
        h.params_mut().tensors_mut()[1] =
            Array2::from_shape_fn((2, 4), |(i, j)| 0.3 * i as f32 - 0.2 * j as f32).into_dyn();
        let rows: [&[f32]; 4] = [
            &[0.5, 0.0, 1.0, 0.2],
            &[0.0; 4],
            &[1.0, 2.0],
            &[0.0, 0.0, 0.0, 3.0],
        ];
        let batch = h.apply(&rows);
        let mut seen = Vec::new();
        h.for_each_embedded(rows, |i, z| seen.push((i, z.to_vec())));
        assert_eq!(seen.len(), 4);
        for (k, (i, z)) in seen.iter().enumerate() {
            assert_eq!(*i, k);
            assert_eq!(z, &batch[k]);
            assert_eq!(z, &h.apply_one(rows[k]));
        }
        // No features, or features of the wrong width, embed to zeros; the others to unit length.
        assert_eq!(batch[1], vec![0.0; 4]);
        assert_eq!(batch[2], vec![0.0; 4]);
        for k in [0, 3] {
            assert!((crate::classifier::dot(&batch[k], &batch[k]) - 1.0).abs() < 1e-5);
        }
    }

    #[test]
    fn stored_params_are_checked() {
        let mut p = Params::new();
        p.insert(A, Tensor::zeros(IxDyn(&[4, 2])));
        p.insert(B, Tensor::zeros(IxDyn(&[3, 4])));
        assert!(Head::from_params(p).is_err());
        let mut p = Params::new();
        p.insert("x", Tensor::zeros(IxDyn(&[4, 2])));
        assert!(Head::from_params(p).is_err());
    }
}
