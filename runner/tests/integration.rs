//! Every integration test of this crate in one test binary: one link of the
//! dependencies instead of one per file (a clean test build of the workspace
//! otherwise filled CI's disk). Each file stays a module named after it, so
//! `cargo test -p <crate> --test integration <file>::` runs one file's tests.

mod agent;
mod agent_replay;
mod cli;
mod common;
mod continual_heatmap;
mod hardening;
mod keep_best;
mod plugins;
mod shard_env;
