//! The `chargestorm` binary.

fn main() -> std::process::ExitCode {
    tui::main_with_args(std::env::args_os())
}
