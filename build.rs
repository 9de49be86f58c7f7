//! Generates the wire model from `proto/client.proto` into `OUT_DIR`.
//!
//! `protox` parses the schema in pure Rust, so building this crate needs no system `protoc`.
//! `prost-build` turns the descriptors into Rust types, and the serde attributes added here give
//! the JSON format its Centrifugo shape: snake_case names, zero values omitted, missing fields
//! defaulted, unknown keys ignored and `bytes` payloads embedded as raw JSON instead of base64.

use std::path::PathBuf;

use prost_build::Config;
use protox::prost_reflect::prost_types::field_descriptor_proto::Type;

const SCHEMA: &str = "proto/client.proto";

/// Large, rare results and pushes live behind a Box so that a Reply, of which a busy connection
/// decodes millions, stays small: the decoder moves it several times on its way into place (a
/// publisher's info is rare too and was a third of a publication). Publications stay inline:
/// boxing them costs an allocation per publication on the reader thread and a free on another
/// (measured: twice the ingest CPU).
const BOXED: &[&str] = &[
    "Reply.connect",
    "Reply.subscribe",
    "Reply.presence",
    "Reply.history",
    "Reply.refresh",
    "Reply.sub_refresh",
    "Push.join",
    "Push.leave",
    "Push.subscribe",
    "Push.connect",
    "Push.disconnect",
    "Push.refresh",
    "Push.unsubscribe",
    "Push.message",
    "Publication.info",
    "Command.connect",
    "Command.subscribe",
    "Command.history",
    "Command.sub_refresh",
];

fn main() {
    println!("cargo:rerun-if-changed={SCHEMA}");
    println!("cargo:rerun-if-changed=build.rs");
    if let Err(error) = generate() {
        // A build script reports by failing the build; say what to look at.
        panic!("generating the wire model from {SCHEMA} failed: {error}");
    }
}

fn generate() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let descriptors = protox::compile([root.join(SCHEMA)], [root.join("proto")])?;
    let mut config = Config::new();
    // Bytes lets the Protobuf decoder hand out payloads as slices of the received frame.
    config.bytes(["."]);
    // Ordered maps make encoding deterministic (golden vectors, reproducible frames).
    config.btree_map(["."]);
    for field in BOXED {
        config.boxed(format!(".centrifugal.centrifuge.protocol.{field}"));
    }
    config.type_attribute(".", "#[derive(serde::Serialize, serde::Deserialize)]");
    config.type_attribute(".", "#[serde(default)]");
    config.field_attribute(".", "#[serde(skip_serializing_if = \"crate::codec::json::omit\")]");
    for file in &descriptors.file {
        let package = file.package();
        for message in &file.message_type {
            for field in &message.field {
                if field.r#type() == Type::Bytes {
                    let path = format!(".{package}.{}.{}", message.name(), field.name());
                    config.field_attribute(path, "#[serde(with = \"crate::codec::json::raw\")]");
                }
            }
        }
    }
    config.out_dir(std::env::var("OUT_DIR")?);
    config.compile_fds(descriptors)?;
    Ok(())
}
