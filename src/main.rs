//! The `ferrocr` binary: parses the command line and hands over to [`ferrocr::cli`].

fn main() -> std::process::ExitCode {
    bound_allocator_retention();
    ferrocr::cli::main()
}

/// Keep the process's memory flat over long runs (measured with `scripts/mem-flat.sh`).
///
/// glibc's malloc raises its mmap threshold dynamically (up to 32 MiB) each time a large
/// mmapped block is freed; after that, page-sized buffers (decoded pages, integral tables,
/// binarised copies) are carved from the per-thread arenas instead, and the arenas keep the
/// high-water mark of many threads' concurrent pages as RSS. A fixed threshold turns the dynamic
/// raise off, so every buffer of 256 KiB or more is its own mapping and goes back to the system
/// when freed.
fn bound_allocator_retention() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called first thing in main, before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}
