//! The `autodidact` binary.
fn main() -> std::process::ExitCode {
    autodidact_runner::main()
}
