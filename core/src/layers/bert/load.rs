//! Loading pretrained BERT weights from a `model.safetensors` file (Hugging Face's format)
//! into a [`Params`] store, by the published tensor names.
//!
//! Names are looked up as published (`embeddings.word_embeddings.weight`,
//! `encoder.layer.0.attention.self.query.weight`, …), or with a `bert.` prefix (checkpoints of
//! `BertFor…` heads); tensors the encoder does not use (`pooler.*`, `embeddings.position_ids`,
//! task heads) are ignored. Linear weights are transposed from PyTorch's `[out, in]` to the
//! `[in, out]` every layer here uses. `F32`, `F64`, `F16` and `BF16` tensors are converted to
//! the store's element type; any other dtype is an error.

use std::path::Path;

use safetensors::{Dtype, SafeTensors};

use super::{Bert, BertConfig, ParamKind};
use crate::error::{CoreError, Result};
use crate::float::Float;
use crate::params::Params;
use crate::Tensor;

/// Reads `path` (a `model.safetensors`) into a fresh store for a BERT of `config`.
///
/// # Errors
/// The file unreadable or not in the safetensors format, a tensor missing, of the wrong shape
/// (expected and found) or of an unsupported dtype, each naming the file and the tensor.
pub fn load_safetensors<T: Float>(path: &Path, config: &BertConfig) -> Result<(Bert, Params<T>)> {
    let bytes = std::fs::read(path).map_err(|source| CoreError::Io {
        path: path.display().to_string(),
        source,
    })?;
    load_safetensors_bytes(&bytes, &path.display().to_string(), config)
}

/// [`load_safetensors`] from the file's bytes; `file` names it in errors.
pub fn load_safetensors_bytes<T: Float>(
    bytes: &[u8],
    file: &str,
    config: &BertConfig,
) -> Result<(Bert, Params<T>)> {
    let err = |reason: String| CoreError::ModelFile {
        file: file.to_string(),
        reason,
    };
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| err(format!("not a readable safetensors file: {e}")))?;
    let prefix = if st.tensor("embeddings.word_embeddings.weight").is_err()
        && st.tensor("bert.embeddings.word_embeddings.weight").is_ok()
    {
        "bert."
    } else {
        ""
    };
    let mut params = Params::new();
    let mut init = |name: &str, shape: &[usize], kind: ParamKind| -> Result<Tensor<T>> {
        let full = format!("{prefix}{name}");
        let view = st.tensor(&full).map_err(|_| {
            err(format!(
                "tensor `{full}` is missing (a BERT with {} layers needs it; is this the model that config.json describes?)",
                config.num_hidden_layers
            ))
        })?;
        // The file's layout: PyTorch keeps linear weights [out, in].
        let file_shape: Vec<usize> = match kind {
            ParamKind::Weight => vec![shape[1], shape[0]],
            _ => shape.to_vec(),
        };
        if view.shape() != file_shape.as_slice() {
            return Err(err(format!(
                "tensor `{full}` has shape {:?}, expected {:?} (from config.json)",
                view.shape(),
                file_shape
            )));
        }
        let values = decode::<T>(view.dtype(), view.data()).ok_or_else(|| {
            err(format!(
                "tensor `{full}` has dtype {:?}; supported: F32, F64, F16, BF16",
                view.dtype()
            ))
        })?;
        if values.len() != file_shape.iter().product::<usize>() {
            return Err(err(format!(
                "tensor `{full}` holds {} values for shape {:?}",
                values.len(),
                file_shape
            )));
        }
        let t = crate::ops::from_vec(&file_shape, values);
        Ok(match kind {
            ParamKind::Weight => t.reversed_axes().as_standard_layout().into_owned(),
            _ => t,
        })
    };
    let bert = Bert::build(&mut params, config, &mut init)?;
    Ok((bert, params))
}

/// The parameters of `bert` as a `model.safetensors` file in Hugging Face's layout: `F32`,
/// linear weights transposed back to PyTorch's `[out, in]`, the store's names (a fine-tuned
/// model saved this way loads in sentence-transformers and here alike).
pub fn to_safetensors_bytes<T: Float>(bert: &Bert, params: &Params<T>) -> Result<Vec<u8>> {
    use std::borrow::Cow;
    struct Raw(Vec<usize>, Vec<u8>);
    impl safetensors::View for &Raw {
        fn dtype(&self) -> Dtype {
            Dtype::F32
        }
        fn shape(&self) -> &[usize] {
            &self.0
        }
        fn data(&self) -> Cow<'_, [u8]> {
            Cow::Borrowed(&self.1)
        }
        fn data_len(&self) -> usize {
            self.1.len()
        }
    }
    let embeddings = [
        bert.embeddings.word,
        bert.embeddings.position,
        bert.embeddings.token_type,
    ];
    let tensors: Vec<(String, Raw)> = params
        .names()
        .iter()
        .zip(params.tensors())
        .enumerate()
        .map(|(i, (name, t))| {
            let linear = t.ndim() == 2 && !embeddings.contains(&i);
            let t = if linear {
                t.t().as_standard_layout().into_owned()
            } else {
                t.as_standard_layout().into_owned()
            };
            let bytes = t
                .iter()
                .flat_map(|x| (x.as_f64() as f32).to_le_bytes())
                .collect();
            (name.clone(), Raw(t.shape().to_vec(), bytes))
        })
        .collect();
    safetensors::serialize(tensors.iter().map(|(k, v)| (k.clone(), v)), None)
        .map_err(|e| CoreError::Serde(format!("writing safetensors: {e}")))
}

/// Little-endian values of a supported dtype, converted; `None` for other dtypes.
fn decode<T: Float>(dtype: Dtype, data: &[u8]) -> Option<Vec<T>> {
    let out = match dtype {
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|c| T::of(f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]]))))
            .collect(),
        Dtype::F64 => data
            .chunks_exact(8)
            .map(|c| {
                let mut b = [0u8; 8];
                b.copy_from_slice(c);
                T::of(f64::from_le_bytes(b))
            })
            .collect(),
        Dtype::BF16 => data
            .chunks_exact(2)
            .map(|c| {
                T::of(f64::from(f32::from_bits(
                    u32::from(u16::from_le_bytes([c[0], c[1]])) << 16,
                )))
            })
            .collect(),
        Dtype::F16 => data
            .chunks_exact(2)
            .map(|c| T::of(f16_to_f64(u16::from_le_bytes([c[0], c[1]]))))
            .collect(),
        _ => return None,
    };
    Some(out)
}

/// IEEE half precision to `f64`.
fn f16_to_f64(h: u16) -> f64 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((h >> 10) & 0x1f);
    let frac = f64::from(h & 0x3ff);
    sign * match exp {
        0 => frac * 2f64.powi(-24),
        31 if frac == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        e => (1.0 + frac / 1024.0) * 2f64.powi(e - 15),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_decodes() {
        assert_eq!(f16_to_f64(0x3c00), 1.0);
        assert_eq!(f16_to_f64(0xc000), -2.0);
        assert_eq!(f16_to_f64(0x3555), 0.333_251_953_125);
        assert_eq!(f16_to_f64(0x0001), 2f64.powi(-24));
        assert!(f16_to_f64(0x7c00).is_infinite());
        let bf = decode::<f64>(Dtype::BF16, &[0x80, 0x3f]).unwrap_or_default();
        assert_eq!(bf, vec![1.0]);
        assert!(decode::<f64>(Dtype::I64, &[0; 8]).is_none());
    }
}
