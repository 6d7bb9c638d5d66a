//! The `ferrocr` binary: parses the command line and hands over to [`ferrocr::cli`].

fn main() -> std::process::ExitCode {
    ferrocr::cli::main()
}
