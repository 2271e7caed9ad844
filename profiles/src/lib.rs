//! The scenario schema of chargestorm and its bundled profiles.
