//! A model version as stored: the head's weights in the safetensors format, with everything
//! else that decides a prediction ([`ModelSpec`]) as JSON in its metadata.

use std::collections::HashMap;

use autodidact_core::{Params, Tensor};
use ndarray::IxDyn;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::classifier::ModelSpec;
use crate::error::{AgentError, Result};
use crate::head::Head;

/// The metadata key holding the spec.
const SPEC_KEY: &str = "autodidact.agent.spec";

/// A stored model: the spec and the head.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelBlob {
    /// Featurizer, temperature, threshold and provenance.
    pub spec: ModelSpec,
    /// The embedding head.
    pub head: Head,
}

impl ModelBlob {
    /// The blob's bytes.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let spec =
            serde_json::to_string(&self.spec).map_err(|e| AgentError::Internal(e.to_string()))?;
        let p = self.head.params();
        let bytes: Vec<Vec<u8>> = p
            .tensors()
            .iter()
            .map(|t| t.iter().flat_map(|v| v.to_le_bytes()).collect())
            .collect();
        let views = p
            .names()
            .iter()
            .zip(p.tensors())
            .zip(&bytes)
            .map(|((n, t), b)| {
                TensorView::new(Dtype::F32, t.shape().to_vec(), b)
                    .map(|v| (n.clone(), v))
                    .map_err(|e| AgentError::Internal(format!("model blob: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let meta = HashMap::from([(SPEC_KEY.to_string(), spec)]);
        safetensors::serialize(views, Some(meta))
            .map_err(|e| AgentError::Internal(format!("model blob: {e}")))
    }

    /// Reads a blob written by [`ModelBlob::encode`]; `version` names it in errors.
    pub fn decode(bytes: &[u8], version: i64) -> Result<ModelBlob> {
        let bad = |why: String| AgentError::State(format!("model version {version}: {why}"));
        let (_, meta) = SafeTensors::read_metadata(bytes).map_err(|e| bad(e.to_string()))?;
        let spec_json = meta
            .metadata()
            .as_ref()
            .and_then(|m| m.get(SPEC_KEY))
            .ok_or_else(|| bad(format!("no `{SPEC_KEY}` in the blob's metadata")))?;
        let spec: ModelSpec = serde_json::from_str(spec_json).map_err(|e| bad(e.to_string()))?;
        let st = SafeTensors::deserialize(bytes).map_err(|e| bad(e.to_string()))?;
        let mut params = Params::new();
        for name in ["head.a", "head.b"] {
            let t = st.tensor(name).map_err(|e| bad(format!("{name}: {e}")))?;
            if t.dtype() != Dtype::F32 {
                return Err(bad(format!("{name} is {:?}, expected F32", t.dtype())));
            }
            let values: Vec<f32> = t
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            let tensor = Tensor::from_shape_vec(IxDyn(t.shape()), values)
                .map_err(|e| bad(format!("{name}: {e}")))?;
            params.insert(name, tensor);
        }
        let head = Head::from_params(params).map_err(|e| bad(e.to_string()))?;
        Ok(ModelBlob { spec, head })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::featurizer::FeaturizerSpec;
    use autodidact_core::rng::Seed;

    #[test]
    fn blobs_round_trip_exactly_and_bad_ones_are_named() {
        let head = Head::new(6, 2, &mut Seed(3).rng("t")).unwrap();
        let blob = ModelBlob {
            spec: ModelSpec {
                featurizer: FeaturizerSpec::Hashed { dim: 6 },
                temperature: 0.05,
                ood_threshold: 1.25,
                examples_upto: 17,
            },
            head,
        };
        let bytes = blob.encode().unwrap();
        assert_eq!(ModelBlob::decode(&bytes, 2).unwrap(), blob);
        let err = ModelBlob::decode(b"{\"x\":1}", 9).unwrap_err().to_string();
        assert!(err.contains("model version 9"), "{err}");
    }
}
