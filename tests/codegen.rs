//! `src/protocol/generated.rs` is what `proto/client.proto` generates: this test generates it
//! again and compares. `BLESS=1 cargo test --test codegen` rewrites the file instead.
//!
//! `protox` parses the schema in pure Rust, so no system `protoc` is needed. `prost-build` turns
//! the descriptors into Rust types, and we add the serde attributes that give the JSON format its
//! Centrifugo shape: snake_case names, zero values omitted, missing fields defaulted, unknown
//! keys ignored and `bytes` payloads embedded as raw JSON instead of base64.

use std::path::{Path, PathBuf};

use prost_build::Config;
use protox::prost_reflect::prost_types::field_descriptor_proto::Type;

const SCHEMA: &str = "proto/client.proto";
const GENERATED: &str = "src/protocol/generated.rs";
const HEADER: &str =
    "// Generated from proto/client.proto by tests/codegen.rs; do not edit. After changing the schema
// or the generator's settings, run `BLESS=1 cargo test --test codegen` to rewrite this file.
";

/// Large, rare results and pushes live behind a Box so that a Reply, of which a busy connection
/// decodes millions, stays small: the decoder moves it several times on its way into place
/// (a publisher's info is rare too and was a third of a publication). Publications stay inline (boxing them costs an allocation
/// per publication on the reader thread and a free on another: measured twice the ingest CPU).
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

#[test]
fn the_checked_in_wire_model_is_what_the_schema_generates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let generated = format!("{HEADER}{}", generate(root));
    let path = root.join(GENERATED);
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write the generated file");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).expect("read the checked-in file");
    assert!(
        checked_in == generated,
        "{GENERATED} is not what {SCHEMA} generates; run `BLESS=1 cargo test --test codegen`"
    );
}

/// The generated Rust source for the schema.
fn generate(root: &Path) -> String {
    let descriptors = protox::compile([root.join(SCHEMA)], [root.join("proto")]).expect("the schema parses");
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
    let out = scratch_dir();
    config.out_dir(&out);
    config.compile_fds(descriptors).expect("prost-build generates the types");
    let source = std::fs::read_to_string(out.join("centrifugal.centrifuge.protocol.rs")).expect("generated");
    let _ = std::fs::remove_dir_all(&out);
    source
}

fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("centrifuge-blocking-codegen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    dir
}
