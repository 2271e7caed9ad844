//! Compiles the seed-004 protobuf schema (`proto/*.proto`) into Rust with `protox` (a pure-Rust
//! protobuf compiler, so no system `protoc` is needed) and `prost-build`.
//!
//! The generated module is written to `OUT_DIR/chargestorm.v1.rs` and included by
//! `proto::mqtt::pb`. Cargo re-runs this script only when a `.proto` file changes.

use std::error::Error;

/// The schema files, in dependency order (charger.proto imports the other two).
const PROTO_FILES: [&str; 3] = [
    "proto/measure.proto",
    "proto/warning.proto",
    "proto/charger.proto",
];

fn main() -> Result<(), Box<dyn Error>> {
    for file in PROTO_FILES {
        println!("cargo:rerun-if-changed={file}");
    }
    println!("cargo:rerun-if-changed=build.rs");

    let descriptors = protox::compile(PROTO_FILES, ["proto"])?;
    prost_build::Config::new()
        // BTreeMap keeps generated code free of HashMap (clippy.toml bans it); the schema has no
        // map fields today, this keeps any future one deterministic.
        .btree_map(["."])
        // The DC BMS block is ~330 bytes inline; boxing it keeps `Message` (and every queue of
        // messages across a simulated fleet) near the size of the next-largest payload.
        .boxed(".chargestorm.v1.ChargingInfoReq.dc")
        .compile_fds(descriptors)?;
    Ok(())
}
