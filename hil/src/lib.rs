//! The I/O shell of chargestorm.

pub mod http;
