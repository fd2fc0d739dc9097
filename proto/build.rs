//! Compiles `tts/v1/tts.proto` with protox (a pure-Rust protobuf compiler), so a fresh machine
//! needs no protoc binary. Generated code and the descriptor set land in `OUT_DIR`.
use std::{env, error::Error, fs, path::PathBuf};

use prost::Message;

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo:rerun-if-changed=tts/v1/tts.proto");
    let descriptors = protox::compile(["tts/v1/tts.proto"], ["."])?;
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(
        out_dir.join("tts_v1_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;
    tonic_prost_build::configure().compile_fds(descriptors)?;
    Ok(())
}
