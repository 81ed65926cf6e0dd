//! The `Params` store: named tensors that live outside the tape (a model's state).

use ndarray::ArrayD;
use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};
use crate::float::Float;
use crate::Tensor;

/// Named tensors in a fixed order; the order is how layers and optimisers address them.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(bound = "T: Float")]
pub struct Params<T> {
    names: Vec<String>,
    tensors: Vec<Tensor<T>>,
}

impl<T: Float> Params<T> {
    /// An empty store.
    pub fn new() -> Self {
        Params {
            names: Vec::new(),
            tensors: Vec::new(),
        }
    }

    /// Adds a tensor under a new name and returns its index.
    ///
    /// # Panics
    /// If the name is taken (a model-building bug, not user input).
    pub fn insert(&mut self, name: impl Into<String>, value: Tensor<T>) -> usize {
        let name = name.into();
        assert!(
            !self.names.contains(&name),
            "autodidact: parameter `{name}` inserted twice"
        );
        self.names.push(name);
        self.tensors.push(value);
        self.tensors.len() - 1
    }

    /// Number of tensors.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// Total number of scalars.
    pub fn num_scalars(&self) -> usize {
        self.tensors.iter().map(|t| t.len()).sum()
    }

    /// The names, in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The tensors, in order.
    pub fn tensors(&self) -> &[Tensor<T>] {
        &self.tensors
    }

    /// Whether every value is finite (no NaN, no infinity): checked before a checkpoint.
    pub fn all_finite(&self) -> bool {
        self.tensors()
            .iter()
            .all(|t| t.iter().all(|x| x.is_finite()))
    }

    /// The tensors, mutable, in order.
    pub fn tensors_mut(&mut self) -> &mut [Tensor<T>] {
        &mut self.tensors
    }

    /// Index of a name.
    pub fn index_of(&self, name: &str) -> Result<usize> {
        self.names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| CoreError::MissingParam(name.to_string()))
    }

    /// The tensor with a name.
    pub fn get(&self, name: &str) -> Result<&Tensor<T>> {
        Ok(&self.tensors[self.index_of(name)?])
    }

    /// Replaces every tensor with one of the same shape, checking shapes.
    pub fn assign(&mut self, values: Vec<Tensor<T>>) -> Result<()> {
        if values.len() != self.tensors.len() {
            return Err(CoreError::Checkpoint(format!(
                "{} tensors given for {} parameters",
                values.len(),
                self.tensors.len()
            )));
        }
        for ((name, old), new) in self.names.iter().zip(&self.tensors).zip(&values) {
            if old.shape() != new.shape() {
                return Err(CoreError::Checkpoint(format!(
                    "parameter `{name}` has shape {:?}, the new value {:?}",
                    old.shape(),
                    new.shape()
                )));
            }
        }
        self.tensors = values;
        Ok(())
    }

    /// Checks that `other` has the same names and shapes (after loading a checkpoint).
    pub fn check_compatible(&self, other: &Params<T>) -> Result<()> {
        if self.names != other.names {
            return Err(CoreError::Checkpoint(format!(
                "parameter names differ: expected {:?}, found {:?}",
                self.names, other.names
            )));
        }
        for ((n, a), b) in self.names.iter().zip(&self.tensors).zip(&other.tensors) {
            if a.shape() != b.shape() {
                return Err(CoreError::Checkpoint(format!(
                    "parameter `{n}`: expected shape {:?}, found {:?}",
                    a.shape(),
                    b.shape()
                )));
            }
        }
        Ok(())
    }

    /// Converts every tensor to another element type.
    pub fn cast<U: Float>(&self) -> Params<U> {
        Params {
            names: self.names.clone(),
            tensors: self
                .tensors
                .iter()
                .map(|t| t.mapv(|x| U::of(x.as_f64())))
                .collect(),
        }
    }

    /// Zeros shaped like every tensor (for optimiser state).
    pub fn zeros_like(&self) -> Vec<Tensor<T>> {
        self.tensors
            .iter()
            .map(|t| ArrayD::zeros(t.raw_dim()))
            .collect()
    }
}
