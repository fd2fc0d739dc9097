//! Command-line modes for people, benchmarks and containers: `say` writes a WAV, `bench` prints
//! timings, `phonemize` prints the phonemes a voice would read, `probe` checks a running worker's
//! health, `build-ja-dict` builds the Japanese dictionary (`make models`).

use std::{
    io::Write,
    path::PathBuf,
    time::{Duration, Instant},
};

use anyhow::Context;

use crate::{
    audio,
    config::ModelArgs,
    g2p::{G2p, Language},
    model::{DEFAULT_VOICE, SAMPLE_RATE},
    synthesis::{Engine, SynthesisRequest},
};

#[derive(Debug, clap::Args)]
pub struct SayArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Voice slug (see the Info RPC, or the error message for a wrong one).
    #[arg(long, default_value = DEFAULT_VOICE)]
    pub voice: String,
    /// Speaking rate, 0.5 to 2.0.
    #[arg(long, default_value_t = 1.0)]
    pub speed: f32,
    /// Output WAV file (24 kHz, mono, 16-bit).
    #[arg(short, long, default_value = "out.wav")]
    pub output: PathBuf,
    /// The text to speak.
    pub text: String,
}

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[arg(long, default_value = DEFAULT_VOICE)]
    pub voice: String,
    /// Measured runs after one warm-up; medians are reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    #[arg(long)]
    pub text: String,
}

#[derive(Debug, clap::Args)]
pub struct PhonemizeArgs {
    /// Folder holding lexicon/ and ja-dict/ (`make models`); no model or ONNX Runtime is
    /// needed.
    #[arg(long, env = "KOKORO_MODEL_DIR", default_value = "models")]
    pub model_dir: PathBuf,
    /// The Japanese dictionary; default MODEL_DIR/ja-dict.
    #[arg(long, env = "KOKORO_JA_DICT")]
    pub ja_dict: Option<PathBuf>,
    /// The voice whose language reads the text (the slug's first letter: a, b, e, f, h, i, p,
    /// j or z).
    #[arg(long, default_value = DEFAULT_VOICE)]
    pub voice: String,
    /// The text to phonemize; `-` reads lines from standard input and prints one line of
    /// phonemes for each (what `make bench-g2p` uses).
    pub text: String,
}

/// Prints the misaki phonemes the voice would read `text` with, so a listener can see why a
/// word sounds wrong.
pub fn phonemize(args: PhonemizeArgs) -> anyhow::Result<()> {
    let language = Language::of_voice(&args.voice).with_context(|| {
        format!(
            "voice {:?} has no known language; its first letter must be one of a, b, e, f, h, i, p, j, z",
            args.voice
        )
    })?;
    let ja_dict = args
        .ja_dict
        .unwrap_or_else(|| args.model_dir.join("ja-dict"));
    let g2p = G2p::load(&args.model_dir.join("lexicon"), &ja_dict)?;
    g2p.supports(language)?;
    if args.text != "-" {
        println!("{}", g2p.phonemize_in(&args.text, language));
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    for line in std::io::stdin().lines() {
        writeln!(out, "{}", g2p.phonemize_in(&line?, language))?;
    }
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct BuildJaDictArgs {
    /// OpenJTalk's dictionary source: the `mecab-naist-jdic/` folder of the open-jtalk source
    /// tarball (naist-jdic.csv, unidic-csj.csv, matrix.def, char.def, unk.def).
    #[arg(long)]
    pub source: PathBuf,
    /// The source tarball's SHA-256, recorded in the dictionary so `make models` knows what it
    /// was built from.
    #[arg(long)]
    pub source_sha256: String,
    /// Where the dictionary goes (replaced when it exists).
    #[arg(long)]
    pub out: PathBuf,
}

/// Builds jpreprocess's dictionary from OpenJTalk's naist-jdic source.
pub fn build_ja_dict(args: BuildJaDictArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    crate::g2p::japanese::build_dictionary(&args.source, &args.out, &args.source_sha256)?;
    eprintln!(
        "build-ja-dict: {} built in {:.1} s",
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// One whole synthesis through the engine's streaming path.
pub struct Measurement {
    pub pcm: Vec<u8>,
    pub first_audio: Duration,
    pub wall: Duration,
}

impl Measurement {
    pub fn audio_seconds(&self) -> f64 {
        (self.pcm.len() / 2) as f64 / f64::from(SAMPLE_RATE)
    }
}

pub async fn synthesize_all(
    engine: &Engine,
    text: &str,
    voice: &str,
    speed: f32,
) -> anyhow::Result<Measurement> {
    let started = Instant::now();
    let mut chunks = engine
        .synthesize(SynthesisRequest {
            text: text.to_string(),
            voice: voice.to_string(),
            speed,
            request_id: "cli".into(),
        })
        .await?;
    let mut pcm = Vec::new();
    let mut first_audio = None;
    while let Some(chunk) = chunks.recv().await {
        let chunk = chunk?;
        first_audio.get_or_insert_with(|| started.elapsed());
        pcm.extend_from_slice(&chunk.pcm);
    }
    Ok(Measurement {
        pcm,
        first_audio: first_audio.unwrap_or_default(),
        wall: started.elapsed(),
    })
}

fn load(model: &ModelArgs) -> anyhow::Result<Engine> {
    Ok(Engine::load(model.engine_config(1)?)?)
}

pub async fn say(args: SayArgs) -> anyhow::Result<()> {
    let engine = load(&args.model)?;
    let result = synthesize_all(&engine, &args.text, &args.voice, args.speed).await?;
    audio::write_wav(&args.output, &result.pcm, SAMPLE_RATE)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    eprintln!(
        "wrote {} ({:.2} s of audio in {:.2} s, first audio after {:.2} s)",
        args.output.display(),
        result.audio_seconds(),
        result.wall.as_secs_f64(),
        result.first_audio.as_secs_f64()
    );
    Ok(())
}

pub async fn bench(args: BenchArgs) -> anyhow::Result<()> {
    let engine = load(&args.model)?;
    synthesize_all(&engine, &args.text, &args.voice, 1.0).await?;
    let mut runs = Vec::with_capacity(args.runs);
    for _ in 0..args.runs.max(1) {
        runs.push(synthesize_all(&engine, &args.text, &args.voice, 1.0).await?);
    }
    let median = |mut values: Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    println!(
        "{}",
        serde_json::json!({
            "audio_seconds": median(runs.iter().map(Measurement::audio_seconds).collect()),
            "wall_seconds": median(runs.iter().map(|r| r.wall.as_secs_f64()).collect()),
            "first_audio_seconds": median(runs.iter().map(|r| r.first_audio.as_secs_f64()).collect()),
            "runs": runs.len(),
        })
    );
    Ok(())
}
