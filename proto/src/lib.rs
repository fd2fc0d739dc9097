//! The gRPC contract between the gateway and the TTS workers: package `tts.v1`.

pub mod tts {
    pub mod v1 {
        tonic::include_proto!("tts.v1");

        /// Encoded `FileDescriptorSet` of the contract, for gRPC reflection.
        pub const FILE_DESCRIPTOR_SET: &[u8] =
            include_bytes!(concat!(env!("OUT_DIR"), "/tts_v1_descriptor.bin"));
    }
}

pub use tts::v1;
