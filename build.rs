//! Generates the wire model from `proto/client.proto`.
//!
//! `protox` parses the schema in pure Rust, so no system `protoc` is needed. `prost-build` turns
//! the descriptors into Rust types, and we add the serde attributes that give the JSON format its
//! Centrifugo shape: snake_case names, zero values omitted, missing fields defaulted, unknown
//! keys ignored and `bytes` payloads embedded as raw JSON instead of base64.

use prost_build::Config;
use protox::prost_reflect::prost_types::field_descriptor_proto::Type;

const SCHEMA: &str = "proto/client.proto";

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
    "Command.connect",
    "Command.subscribe",
    "Command.history",
    "Command.sub_refresh",
];

fn main() {
    println!("cargo:rerun-if-changed={SCHEMA}");
    println!("cargo:rerun-if-changed=build.rs");

    let descriptors = match protox::compile([SCHEMA], ["proto"]) {
        Ok(set) => set,
        Err(err) => fail(&format!("cannot parse {SCHEMA}: {err}")),
    };

    let mut config = Config::new();
    // Bytes lets the Protobuf decoder hand out payloads as slices of the received frame.
    config.bytes(["."]);
    // Ordered maps make encoding deterministic (golden vectors, reproducible frames).
    config.btree_map(["."]);
    // Large, rare results and pushes live behind a Box so that a Reply, of which a busy connection
    // decodes millions, stays small; publications stay inline.
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

    if let Err(err) = config.compile_fds(descriptors) {
        fail(&format!("cannot generate Rust types from {SCHEMA}: {err}"));
    }
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}
