//! The `chargestorm` binary.

fn main() {}
