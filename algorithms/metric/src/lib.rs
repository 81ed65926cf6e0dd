//! # autodidact-metric
//!
//! Metric-based meta-learning: Matching Networks, Prototypical Networks, Relation Networks (work in progress).
#![warn(missing_docs)]
