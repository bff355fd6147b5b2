//! The `hookgate` binary: parse the command line and hand over to `cli`.

fn main() {
    std::process::exit(hookgate::cli::main());
}
