//! The I/O shell of chargestorm.
