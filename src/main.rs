//! The `ferrocr` binary: parses the command line and hands over to [`ferrocr::cli`].

fn main() -> std::process::ExitCode {
    // The only global flag (`--log-json`) takes no value: the first other word is the command.
    let command = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    if matches!(command.as_deref(), Some("serve" | "worker")) {
        bound_allocator_retention();
    }
    ferrocr::cli::main()
}

/// Keep a long-running process's memory flat (measured with `scripts/mem-flat.sh`); used by
/// `serve` and `worker` only.
///
/// glibc's malloc raises its mmap threshold dynamically (up to 32 MiB) each time a large
/// mmapped block is freed; after that, page-sized buffers (decoded pages, integral tables,
/// binarised copies) are carved from the per-thread arenas instead, and the arenas keep the
/// high-water mark of many threads' concurrent pages as RSS. A fixed threshold turns the dynamic
/// raise off, so every buffer of 256 KiB or more is its own mapping and goes back to the system
/// when freed. The price is a fresh, zeroed mapping for every large tensor of the recogniser:
/// on the CLI it cost ~30 % of page throughput (1.60–1.70 vs 2.26–2.41 pages/s over the dev
/// pages, docs/BENCHMARKS.md), so one-shot commands keep glibc's defaults.
fn bound_allocator_retention() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called first thing in main, before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}
