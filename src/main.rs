//! The `hookgate` binary: parse the command line and hand over to `cli`.
//!
//! The system allocator is kept on purpose: measured in the benchmark, mimalloc 0.1.52
//! (v3) made no difference to CPU per event but more than doubled idle RSS (12 -> 28 MiB;
//! 17 MiB with MIMALLOC_ARENA_EAGER_COMMIT=0), and a sidecar's footprint matters.

fn main() {
    std::process::exit(hookgate::cli::main());
}
