//! The gRPC face of the engine: `tts.v1.TextToSpeech`.

use std::sync::Arc;

use proto::v1::{
    AudioChunk, Device, InfoRequest, InfoResponse, PhonemizeRequest, PhonemizeResponse,
    SynthesizeRequest, Voice, text_to_speech_server::TextToSpeech,
};
use tonic::{Request, Response, Status};

use crate::{
    model::SAMPLE_RATE,
    synthesis::{Engine, RenderedChunk, SynthesisError, SynthesisRequest},
};

pub const MODEL_SLUG: &str = "kokoro";

pub struct KokoroService {
    engine: Arc<Engine>,
}

impl KokoroService {
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
            | SynthesisError::BadBlend(_)
            | SynthesisError::MixedLanguages { .. }
            | SynthesisError::BadSpeed(_)
            | SynthesisError::NothingToSay => Status::invalid_argument(message),
            SynthesisError::LanguageUnavailable(_) => Status::failed_precondition(message),
            SynthesisError::Busy { .. } => Status::resource_exhausted(message),
            SynthesisError::ShuttingDown => Status::unavailable(message),
            SynthesisError::Model(e) => {
                tracing::error!(error = %e, "synthesis failed");
                Status::internal("the model failed to synthesize this text")
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
            words: chunk
                .words
                .into_iter()
                .map(|w| proto::v1::WordTiming {
                    char_start: w.chars.start as u32,
                    char_end: w.chars.end as u32,
                    text: w.text,
                    start_sample: w.samples.start,
                    end_sample: w.samples.end,
                })
                .collect(),
        }
    }
}

#[tonic::async_trait]
impl TextToSpeech for KokoroService {
    async fn info(&self, _: Request<InfoRequest>) -> Result<Response<InfoResponse>, Status> {
        let config = self.engine.config();
        Ok(Response::new(InfoResponse {
            model_slug: MODEL_SLUG.into(),
            model_version: self.engine.model_version().into(),
            sample_rate: SAMPLE_RATE,
            device: Device::Cpu.into(),
            threads: config.threads as u32,
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
            min_speed: crate::synthesis::MIN_SPEED,
            max_speed: crate::synthesis::MAX_SPEED,
        }))
    }

    async fn phonemize(
        &self,
        request: Request<PhonemizeRequest>,
    ) -> Result<Response<PhonemizeResponse>, Status> {
        let request = request.into_inner();
        let (phonemes, language) = self.engine.phonemize(request.text, &request.voice).await?;
        Ok(Response::new(PhonemizeResponse {
            phonemes,
            language: language.into(),
        }))
    }

    type SynthesizeStream = service::AudioStream;

    async fn synthesize(
        &self,
        request: Request<SynthesizeRequest>,
    ) -> Result<Response<service::AudioStream>, Status> {
        let request = request.into_inner();
        // Dropping the response stream (the client left) closes the engine's reply channel,
        // which cancels the job.
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
