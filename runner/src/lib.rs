//! # autodidact-runner
//!
//! The `autodidact` command (work in progress).
#![warn(missing_docs)]
