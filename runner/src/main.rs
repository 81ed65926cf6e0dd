//! The `autodidact` binary (work in progress).
fn main() {
    eprintln!("autodidact: the runner is being built");
    std::process::exit(2);
}
