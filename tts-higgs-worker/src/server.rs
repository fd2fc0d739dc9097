//! The gRPC face of the engine: `tts.v1.TextToSpeech`, as the Kokoro worker serves it.

use std::sync::Arc;

use proto::v1::{
    AudioChunk, Device, InfoRequest, InfoResponse, PhonemizeRequest, PhonemizeResponse,
    SynthesizeRequest, Voice, text_to_speech_server::TextToSpeech,
};
use tonic::{Request, Response, Status};

use crate::engine::{Engine, RenderedChunk, SAMPLE_RATE, SynthesisError, SynthesisRequest};

pub const MODEL_SLUG: &str = "higgs";

pub struct HiggsService {
    engine: Arc<Engine>,
}

impl HiggsService {
    pub fn new(engine: Arc<Engine>) -> Self {
        Self { engine }
    }
}

impl From<SynthesisError> for Status {
    fn from(error: SynthesisError) -> Self {
        let message = error.to_string();
        match error {
            SynthesisError::EmptyText
            | SynthesisError::TextTooLong { .. }
            | SynthesisError::UnknownVoice { .. }
            | SynthesisError::BadSpeed(_)
            | SynthesisError::SpeedUnsupported(_) => Status::invalid_argument(message),
            SynthesisError::Busy { .. } => Status::resource_exhausted(message),
            SynthesisError::ShuttingDown => Status::unavailable(message),
            SynthesisError::NoAudio | SynthesisError::Model(_) | SynthesisError::Codec(_) => {
                tracing::error!(error = %message, "synthesis failed");
                Status::internal(format!(
                    "the model failed to synthesize this text: {message}"
                ))
            }
        }
    }
}

impl From<RenderedChunk> for AudioChunk {
    fn from(chunk: RenderedChunk) -> Self {
        AudioChunk {
            pcm: chunk.pcm,
            sample_rate: SAMPLE_RATE,
            sequence: chunk.sequence,
            last: chunk.last,
            text: chunk.text,
            // Higgs predicts no durations: players fall back to the block.
            words: Vec::new(),
        }
    }
}

#[tonic::async_trait]
impl TextToSpeech for HiggsService {
    async fn info(&self, _: Request<InfoRequest>) -> Result<Response<InfoResponse>, Status> {
        let config = self.engine.config();
        let device = if config.device.is_cuda() {
            Device::Cuda
        } else {
            Device::Cpu
        };
        Ok(Response::new(InfoResponse {
            model_slug: MODEL_SLUG.into(),
            model_version: self.engine.model_version().into(),
            sample_rate: SAMPLE_RATE,
            device: device.into(),
            threads: 0,
            capacity: config.capacity as u32,
            voices: self
                .engine
                .voices()
                .iter()
                .map(|v| Voice {
                    slug: v.slug.clone(),
                    name: v.name.clone(),
                    language: v.language.clone(),
                })
                .collect(),
            max_text_chars: config.max_text_chars as u32,
            // Its voice's own pace only; players change the speed on playback.
            min_speed: 1.0,
            max_speed: 1.0,
        }))
    }

    async fn phonemize(
        &self,
        _: Request<PhonemizeRequest>,
    ) -> Result<Response<PhonemizeResponse>, Status> {
        Err(Status::unimplemented(
            "Higgs reads text directly, without phonemes",
        ))
    }

    type SynthesizeStream = service::AudioStream;

    async fn synthesize(
        &self,
        request: Request<SynthesizeRequest>,
    ) -> Result<Response<service::AudioStream>, Status> {
        let request = request.into_inner();
        // Dropping the response stream (the client left) closes the engine's reply channel,
        // which stops the generation at its next frame.
        let chunks = self
            .engine
            .synthesize(SynthesisRequest {
                text: request.text,
                voice: request.voice,
                speed: request.speed,
                request_id: request.request_id,
            })
            .await;
        Ok(Response::new(service::metered(chunks, SAMPLE_RATE)?))
    }
}
