//! A BERT's linear weights laid out in panels for few-token inference ([`Bert::pack`],
//! [`Bert::encode_packed`]): one sentence's 10–30 tokens make products of few rows, where
//! reading the weights is the cost, and panels are read front to back once per product
//! (`ops::panels`).

use super::Bert;
use crate::error::{CoreError, Result};
use crate::ops::panels;
use crate::params::Params;

/// Positions probed in each packed weight to tell whether the store still holds it.
const PROBES: usize = 8;

/// The linear weights of one [`Bert`] and one parameter store, in panels (made by
/// [`Bert::pack`]; about as large as the linear weights: 42 MB for all-MiniLM-L6-v2).
///
/// It remembers a few values of every weight it packed, and [`Bert::encode_packed`] refuses a
/// store whose weights differ there (a store changed since, or another one): pack again after
/// changing the weights. The check reads a few values, not all of them.
#[derive(Clone, Debug, Default)]
pub struct PackedWeights {
    /// By parameter index: the panels of a packed linear weight.
    panels: Vec<Option<Vec<f32>>>,
    /// For each packed weight: its index, element count and the bits at the probed positions.
    probes: Vec<(usize, usize, Vec<(usize, u32)>)>,
}

impl PackedWeights {
    /// Parameter `i` as panels, when it was packed.
    pub(crate) fn panels(&self, i: usize) -> Option<&[f32]> {
        self.panels.get(i).and_then(|p| p.as_deref())
    }

    /// How many weights are in panels (linear layers whose width is a multiple of 32).
    pub fn len(&self) -> usize {
        self.probes.len()
    }

    /// Whether no weight is in panels.
    pub fn is_empty(&self) -> bool {
        self.probes.is_empty()
    }

    /// Errors unless every packed weight still has its probed values in `params`.
    pub(crate) fn check(&self, params: &Params<f32>) -> Result<()> {
        let tensors = params.tensors();
        for (i, len, probes) in &self.probes {
            let same = tensors.get(*i).and_then(|t| t.as_slice()).is_some_and(|w| {
                w.len() == *len
                    && probes
                        .iter()
                        .all(|&(at, bits)| w.get(at).is_some_and(|v| v.to_bits() == bits))
            });
            if !same {
                let name = params.names().get(*i).map_or("?", String::as_str);
                return Err(CoreError::Incompatible(format!(
                    "the packed weights do not match parameter `{name}` of this store (it \
                     changed since `Bert::pack`, or the weights were packed from another \
                     store): pack them again"
                )));
            }
        }
        Ok(())
    }
}

impl Bert {
    /// The linear weights of `params` in panels, for [`Bert::encode_packed`]: worth it for
    /// inference on one or a few sentences at a time (at batch 1 about twice as fast as
    /// [`Bert::encode`] on a CPU with AVX-512; elsewhere the same as it).
    pub fn pack(&self, params: &Params<f32>) -> PackedWeights {
        let tensors = params.tensors();
        let mut packed = PackedWeights {
            panels: vec![None; tensors.len()],
            probes: Vec::new(),
        };
        let linears = self.layers.iter().flat_map(|l| {
            let (a, f) = (&l.attention, &l.feed_forward);
            [
                &a.query,
                &a.key,
                &a.value,
                &a.output,
                &f.intermediate,
                &f.output,
            ]
        });
        for lin in linears {
            let Some(w) = tensors.get(lin.weight).and_then(|t| t.as_slice()) else {
                continue;
            };
            if let Some(p) = panels::pack(w, lin.in_dim, lin.out_dim) {
                // Evenly spread, first and last included (`pack` refuses an empty weight).
                let probes = (0..PROBES)
                    .map(|j| j * (w.len() - 1) / (PROBES - 1))
                    .map(|at| (at, w[at].to_bits()))
                    .collect();
                packed.probes.push((lin.weight, w.len(), probes));
                packed.panels[lin.weight] = Some(p);
            }
        }
        packed
    }
}
