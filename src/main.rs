//! The `topolab` binary: everything is in the library.

fn main() -> std::process::ExitCode {
    topolab::cli::run()
}
