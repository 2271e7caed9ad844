//! Support code for chargestorm's end-to-end tests.
