//! # autodidact-gradient
//!
//! Gradient-based meta-learning: MAML, first-order MAML, Reptile, Meta-SGD, ANIL (work in progress).
#![warn(missing_docs)]
