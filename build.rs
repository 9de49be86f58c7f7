//! Generates the wire model from `proto/client.proto` into `OUT_DIR`.
//!
//! `protox` parses the schema in pure Rust, so building this crate needs no system `protoc`.
//! `prost-build` turns the descriptors into Rust types, and the serde attributes added here give
//! the JSON format its Centrifugo shape: snake_case names, zero values omitted, missing fields
//! defaulted, unknown keys ignored and `bytes` payloads embedded as raw JSON instead of base64.
//! Serde's code is derived only for the directions the client uses (see `EncodeMessage` in
//! `src/codec/mod.rs`), unless the `unversioned` feature asks for both.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use prost_build::Config;
use protox::prost_reflect::prost_types::field_descriptor_proto::Type;
use protox::prost_reflect::prost_types::{DescriptorProto, FileDescriptorSet};

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
    let package = ".centrifugal.centrifuge.protocol";
    let messages = messages_by_name(&descriptors);
    // Both directions for the `unversioned` feature (the project's scripted servers and tools
    // encode replies and decode commands); otherwise what the client does with each message.
    let both_ways = std::env::var_os("CARGO_FEATURE_UNVERSIONED").is_some();
    let sent = reachable(&messages, &format!("{package}.Command"));
    let received = reachable(&messages, &format!("{package}.Reply"));
    for (name, message) in &messages {
        if message.options.as_ref().is_some_and(|options| options.map_entry()) {
            continue; // A map's entries are a BTreeMap's, not a type of their own.
        }
        let serialize = both_ways || sent.contains(name);
        let deserialize = both_ways || received.contains(name);
        let derive = match (serialize, deserialize) {
            (true, true) => "#[derive(serde::Serialize, serde::Deserialize)]",
            (true, false) => "#[derive(serde::Serialize)]",
            (false, true) => "#[derive(serde::Deserialize)]",
            // Only Protobuf carries it (the emulation request), or nothing does yet.
            (false, false) => continue,
        };
        config.type_attribute(name, derive);
        config.type_attribute(name, "#[serde(default)]");
        for field in &message.field {
            let path = format!("{name}.{}", field.name());
            config.field_attribute(&path, "#[serde(skip_serializing_if = \"crate::codec::json::omit\")]");
            if field.r#type() == Type::Bytes {
                config.field_attribute(&path, "#[serde(with = \"crate::codec::json::raw\")]");
            }
        }
    }
    config.out_dir(std::env::var("OUT_DIR")?);
    config.compile_fds(descriptors)?;
    Ok(())
}

/// Every message of the schema by its full name (`.package.Name`), nested ones (map entries)
/// included.
fn messages_by_name(descriptors: &FileDescriptorSet) -> BTreeMap<String, &DescriptorProto> {
    fn add<'a>(scope: &str, message: &'a DescriptorProto, into: &mut BTreeMap<String, &'a DescriptorProto>) {
        let name = format!("{scope}.{}", message.name());
        for nested in &message.nested_type {
            add(&name, nested, into);
        }
        into.insert(name, message);
    }
    let mut messages = BTreeMap::new();
    for file in &descriptors.file {
        for message in &file.message_type {
            add(&format!(".{}", file.package()), message, &mut messages);
        }
    }
    messages
}

/// The messages a `root` message can contain, itself included, through fields and map values.
fn reachable(messages: &BTreeMap<String, &DescriptorProto>, root: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut pending = vec![root.to_string()];
    while let Some(name) = pending.pop() {
        let Some(message) = messages.get(&name) else { continue };
        if !found.insert(name) {
            continue;
        }
        for field in &message.field {
            if field.r#type() == Type::Message {
                pending.push(field.type_name().to_string());
            }
        }
    }
    found
}
