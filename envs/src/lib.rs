//! # autodidact-envs
//!
//! The shared environments (work in progress).
#![warn(missing_docs)]
