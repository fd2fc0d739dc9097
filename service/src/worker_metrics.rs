//! The metrics every TTS worker records per Synthesize call.

use std::time::Instant;

/// Histogram buckets of the worker's metrics: the real-time factor (seconds of work per second
/// of audio; under 1 keeps up with a listener at 1×).
pub const METRIC_BUCKETS: &[(&str, &[f64])] = &[(
    "yapit_worker_real_time_factor",
    &[0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 4.0],
)];

/// One worker request's metrics, recorded when its stream ends (finished, failed or abandoned):
/// `yapit_worker_audio_seconds_total`, `yapit_worker_real_time_factor`, and the
/// `yapit_worker_busy_slots` it held.
pub struct Served {
    started: Instant,
    sample_rate: u32,
    /// Samples sent so far; the stream adds each chunk's.
    pub samples: u64,
}

impl Served {
    pub fn start(sample_rate: u32) -> Self {
        metrics::gauge!("yapit_worker_busy_slots").increment(1.0);
        Self {
            started: Instant::now(),
            sample_rate,
            samples: 0,
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        metrics::gauge!("yapit_worker_busy_slots").decrement(1.0);
        let audio = self.samples as f64 / f64::from(self.sample_rate);
        metrics::counter!("yapit_worker_audio_seconds_total").increment(audio.round() as u64);
        if audio > 0.0 {
            metrics::histogram!("yapit_worker_real_time_factor")
                .record(self.started.elapsed().as_secs_f64() / audio);
        }
    }
}

/// What a worker's `Synthesize` answers: the audio chunks as they are made.
pub type AudioStream = std::pin::Pin<
    Box<dyn tokio_stream::Stream<Item = Result<proto::v1::AudioChunk, tonic::Status>> + Send>,
>;

/// A `Synthesize` call's answer from the engine's: counts the call's outcome
/// (`yapit_worker_requests_total`) and turns the engine's chunks into the reply stream, which
/// records the call's `Served` metrics when it ends. Dropping the stream (the client left) drops
/// the engine's receiver, which is how the engine learns to stop.
pub fn metered<C, E>(
    started: Result<tokio::sync::mpsc::Receiver<Result<C, E>>, E>,
    sample_rate: u32,
) -> Result<AudioStream, tonic::Status>
where
    C: Into<proto::v1::AudioChunk> + Send + 'static,
    E: Into<tonic::Status> + Send + 'static,
{
    use tokio_stream::StreamExt;
    let chunks = started.map_err(Into::into).inspect_err(|status| {
        let outcome = format!("{:?}", status.code());
        metrics::counter!("yapit_worker_requests_total", "outcome" => outcome).increment(1);
    })?;
    metrics::counter!("yapit_worker_requests_total", "outcome" => "Ok").increment(1);
    let mut served = Served::start(sample_rate);
    let stream = tokio_stream::wrappers::ReceiverStream::new(chunks).map(move |chunk| {
        // The whole guard moves into the stream (not just its counter), so it records when the
        // stream ends.
        let served = &mut served;
        let chunk = chunk.map(Into::into).map_err(Into::into)?;
        served.samples += chunk.pcm.len() as u64 / 2;
        Ok(chunk)
    });
    Ok(Box::pin(stream))
}
