//! The gRPC contract between the gateway and the TTS workers: package `tts.v1`, and the syntax
//! of its `voice` field ([`blend`]).

pub mod blend;

pub mod tts {
    // Generated code carries the .proto comments verbatim; clippy's doc-markdown rules don't
    // fit protobuf comment style.
    #[allow(clippy::doc_lazy_continuation, clippy::doc_overindented_list_items)]
    pub mod v1 {
        tonic::include_proto!("tts.v1");

        /// Encoded `FileDescriptorSet` of the contract, for gRPC reflection.
        pub const FILE_DESCRIPTOR_SET: &[u8] =
            include_bytes!(concat!(env!("OUT_DIR"), "/tts_v1_descriptor.bin"));
    }
}

pub use tts::v1;
