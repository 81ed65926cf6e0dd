//! # autodidact-continual
//!
//! Continual learning: Naive, EWC, SI, LwF, Replay, A-GEM, Joint (work in progress).
#![warn(missing_docs)]
