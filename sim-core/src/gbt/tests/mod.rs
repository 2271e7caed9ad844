//! Session tests: two virtual nodes on a virtual segment, a toy plant, virtual time.

mod fast_paths;
mod golden;
mod harness;
mod props;
mod scale;
mod session;
mod stops;
mod timeouts;
mod tp;
