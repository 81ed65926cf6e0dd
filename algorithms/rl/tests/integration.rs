//! Every integration test of this crate in one test binary: one link of the
//! dependencies instead of one per file (a clean test build of the workspace
//! otherwise filled CI's disk). Each file stays a module named after it, so
//! `cargo test -p <crate> --test integration <file>::` runs one file's tests.

mod bandit_reference;
mod common;
mod dp;
mod dqn;
mod maml_rl;
mod maml_rl_exact;
mod maml_rl_trpo;
mod pg;
mod pg_exact;
mod pg_losses;
mod registry;
mod rl2;
mod tabular;
mod threads;
