//! Checkpoint helpers: floats stored as their bit patterns (exact, and NaN-safe in JSON).

use autodidact_core::Params;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::errors::{Result, RlError};

/// `#[serde(with = "crate::checkpoint::f32_bits")]` for a `Vec<f32>`.
pub mod f32_bits {
    use super::*;

    /// Writes the bit patterns.
    pub fn serialize<S: Serializer>(v: &[f32], s: S) -> std::result::Result<S::Ok, S::Error> {
        let bits: Vec<u32> = v.iter().map(|x| x.to_bits()).collect();
        bits.serialize(s)
    }

    /// Reads the bit patterns.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Vec<f32>, D::Error> {
        let bits = Vec::<u32>::deserialize(d)?;
        Ok(bits.into_iter().map(f32::from_bits).collect())
    }
}

/// A parameter store's tensors, bit for bit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParamsBits {
    /// Names, in order.
    pub names: Vec<String>,
    /// Shapes, in order.
    pub shapes: Vec<Vec<usize>>,
    /// Values, as bit patterns.
    pub bits: Vec<Vec<u32>>,
}

impl ParamsBits {
    /// Captures a store.
    pub fn of(p: &Params<f32>) -> ParamsBits {
        ParamsBits {
            names: p.names().to_vec(),
            shapes: p.tensors().iter().map(|t| t.shape().to_vec()).collect(),
            bits: p
                .tensors()
                .iter()
                .map(|t| t.iter().map(|x| x.to_bits()).collect())
                .collect(),
        }
    }

    /// Writes the values into a store with the same names and shapes.
    pub fn restore(&self, p: &mut Params<f32>) -> Result<()> {
        if self.names != p.names() {
            return Err(RlError::Checkpoint(format!(
                "parameter names differ: expected {:?}, found {:?}",
                p.names(),
                self.names
            )));
        }
        let mut values = Vec::with_capacity(self.bits.len());
        for ((name, shape), bits) in self.names.iter().zip(&self.shapes).zip(&self.bits) {
            let data: Vec<f32> = bits.iter().map(|&b| f32::from_bits(b)).collect();
            let t = ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(shape), data)
                .map_err(|e| RlError::Checkpoint(format!("parameter `{name}`: {e}")))?;
            values.push(t);
        }
        p.assign(values)?;
        Ok(())
    }
}
