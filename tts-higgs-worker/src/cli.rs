//! Command-line modes for people and containers: `say` writes a WAV through the whole path
//! (prompt, language model, streaming decoder), `probe` checks a running worker's health.

use std::{path::PathBuf, time::Instant};

use anyhow::Context;

use crate::{
    config::ModelArgs,
    engine::{Engine, SAMPLE_RATE, SynthesisRequest},
};

#[derive(Debug, clap::Args)]
pub struct SayArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Voice slug, one of the clips in HIGGS_VOICES_DIR; default the catalogue's default Higgs
    /// voice when loaded, else the first loaded.
    #[arg(long)]
    pub voice: Option<String>,
    /// Output WAV file (24 kHz, mono, 16-bit).
    #[arg(short, long, default_value = "out.wav")]
    pub output: PathBuf,
    /// The text to speak.
    pub text: String,
}

/// Speaks `text` into a WAV file and prints what it took.
pub async fn say(args: SayArgs) -> anyhow::Result<()> {
    let config = args.model.engine_config(1)?;
    let loading = Instant::now();
    let engine = tokio::task::spawn_blocking(move || Engine::load(config)).await??;
    let engine = std::sync::Arc::new(engine);
    let loaded = loading.elapsed();
    let voice = match args.voice {
        Some(v) => v,
        None => {
            let catalog = seed::Catalog::builtin();
            let default = catalog
                .model(crate::server::MODEL_SLUG)
                .and_then(|m| m.default_voice.clone())
                .filter(|v| engine.voices().get(v).is_some());
            default
                .or_else(|| engine.voices().iter().next().map(|v| v.slug.clone()))
                .context("no voice loaded")?
        }
    };
    let started = Instant::now();
    let mut chunks = engine
        .synthesize(SynthesisRequest {
            text: args.text,
            voice: voice.clone(),
            speed: 1.0,
            request_id: "say".into(),
        })
        .await?;
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut wav = hound::WavWriter::create(&args.output, spec)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    let mut first_audio = None;
    let mut samples = 0usize;
    let mut count = 0;
    while let Some(chunk) = chunks.recv().await {
        let chunk = chunk?;
        first_audio.get_or_insert_with(|| started.elapsed());
        count += 1;
        for pair in chunk.pcm.chunks_exact(2) {
            wav.write_sample(i16::from_le_bytes([pair[0], pair[1]]))?;
            samples += 1;
        }
        if chunk.last {
            break;
        }
    }
    wav.finalize()?;
    let wall = started.elapsed();
    let audio = samples as f64 / f64::from(SAMPLE_RATE);
    println!(
        "{}: {audio:.2} s of audio in {count} chunks, voice {voice}; load {:.2} s, first audio {:.2} s, total {:.2} s (real-time factor {:.2})",
        args.output.display(),
        loaded.as_secs_f64(),
        first_audio.unwrap_or_default().as_secs_f64(),
        wall.as_secs_f64(),
        wall.as_secs_f64() / audio.max(1e-9),
    );
    Ok(())
}
