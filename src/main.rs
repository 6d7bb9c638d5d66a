//! The `ferrocr` binary: parses the command line and hands over to [`ferrocr::cli`].

fn main() -> std::process::ExitCode {
    // The only global flag (`--log-json`) takes no value: the first other word is the command.
    let command = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    if matches!(command.as_deref(), Some("serve" | "worker"))
        && std::env::var_os("FERROCR_MALLOC_DEFAULTS").is_none()
    {
        bound_allocator_retention();
    }
    if matches!(command.as_deref(), Some("serve" | "worker")) {
        raise_fd_limit();
    }
    ferrocr::cli::main()
}

/// Keep a long-running process's memory flat (measured with `scripts/mem-flat.sh`); used by
/// `serve` and `worker` unless `FERROCR_MALLOC_DEFAULTS` is set.
///
/// glibc's malloc gives each thread that contends for a lock its own arena (up to 8 per core)
/// and every arena keeps its high-water mark as RSS; over a long run the server's many threads
/// (HTTP, batcher, page pool) grew RSS by 17 % to a plateau. Two arenas bound that: +1.4 % from
/// 1,000 to 10,000 requests. An earlier fix, a fixed mmap threshold, kept RSS as flat but made
/// every large tensor a fresh zeroed mapping and cost the server ~35 % of its throughput
/// (docs/BENCHMARKS.md, "Server memory").
fn bound_allocator_retention() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called first thing in main, before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Raise the soft file-descriptor limit to the hard one, as servers do: each client connection
/// is a descriptor, and running out makes `accept` fail for everyone (health checks included).
/// The server then keeps its connections below the limit (`max_connections`).
fn raise_fd_limit() {
    #[cfg(unix)]
    // SAFETY: getrlimit/setrlimit only read and write the struct passed by pointer.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}
