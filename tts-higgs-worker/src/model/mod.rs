//! The Higgs Audio v2 language model: config, backbone with DualFFN, generation.
