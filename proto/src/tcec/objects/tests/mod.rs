//! Object tests: fixtures of every type, round trips, the seed's examples, lenient decoding of
//! sloppy input and validation errors that name the field.

mod fixtures;
mod lenient_cases;
mod round_trip;
mod seed_examples;
mod validation;
