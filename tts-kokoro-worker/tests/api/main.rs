//! Integration tests: the real gRPC server, the real ONNX Runtime and the real Kokoro model.
//! They need `make models` and ORT_DYLIB_PATH (both done by `make test`).

mod bad_input;
mod helpers;
mod info;
mod lifecycle;
mod synthesize;
mod words;
