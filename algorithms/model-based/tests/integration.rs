//! Every integration test of this crate in one test binary: one link of the
//! dependencies instead of one per file (a clean test build of the workspace
//! otherwise filled CI's disk). Each file stays a module named after it, so
//! `cargo test -p <crate> --test integration <file>::` runs one file's tests.

mod memory;
mod metanet;
mod training;
