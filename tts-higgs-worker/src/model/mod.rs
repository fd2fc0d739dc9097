//! The Higgs Audio v2 language model: config, backbone with DualFFN, generation.
//!
//! The published checkpoint (`bosonai/higgs-audio-v2-generation-3B-base`) is a Llama-3.2-3B
//! backbone whose every layer is a DualFFN layer (`dual_ffn_fast_forward` with all 28 layers in
//! `audio_dual_ffn_layers`, so nothing is fast-forwarded), with the delay pattern, 8 codebooks of
//! 1024 codes and no whisper tower (`skip_audio_tower`). The reference implementation
//! (boson-multimodal 0.1.1) is the specification; see `scripts/higgs-reference/`.

mod backbone;
pub mod config;
pub mod delay;
mod error;
pub mod prompt;
pub mod sampling;
pub mod weights;

use std::ops::ControlFlow;
use std::path::Path;

use candle_core::{DType, Device, IndexOp, Tensor};
use tokenizers::Tokenizer;

pub use backbone::{Backbone, KvCache};
pub use config::HiggsConfig;
pub use error::ModelError;
pub use prompt::{DEFAULT_SYSTEM_PROMPT, Prompt, SpecialTokens, VoicePrompt};
pub use sampling::{DelayState, Sampling, SeededRng};

/// The Higgs language model with its tokenizer. Weights are immutable, so one instance can serve
/// generations from several threads (`&self` everywhere).
pub struct HiggsModel {
    config: HiggsConfig,
    backbone: Backbone,
    tokenizer: Tokenizer,
    special: SpecialTokens,
}

/// Logits of a full forward pass over a prompt (what the reference's prefill computes).
pub struct PrefillOutput {
    /// `[positions, vocab]`, f32, over the prompt with audio placeholders expanded.
    pub text_logits: Tensor,
    /// `[audio positions, num_codebooks, codebook_size + 2]`, f32; `None` without audio.
    pub audio_logits: Option<Tensor>,
    /// Which expanded positions are audio (the reference's `audio_out_mask`).
    pub audio_positions: Vec<usize>,
}

/// What a generation produced, with the delayed columns kept for inspection.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    /// Delayed columns as generated (column 0 is the all-BOS column), a code per codebook each.
    pub columns: Vec<Vec<u32>>,
    /// Frames with the delay pattern undone, `[codebook][frame]`, without stream BOS/EOS.
    pub codes: Vec<Vec<u32>>,
    /// Whether the EOS countdown ended the stream (rather than `max_frames` or the caller).
    pub ended_by_eos: bool,
}

impl HiggsModel {
    /// Loads `config.json`, the safetensors weights (one file, or shards listed in
    /// `model.safetensors.index.json`, memory-mapped) and `tokenizer.json` from `model_dir`.
    pub fn load(model_dir: &Path, device: &Device, dtype: DType) -> Result<Self, ModelError> {
        let config = HiggsConfig::from_file(&model_dir.join("config.json"))?;
        let tokenizer_path = model_dir.join("tokenizer.json");
        if !tokenizer_path.is_file() {
            return Err(ModelError::Tokenizer {
                path: tokenizer_path,
                reason: "file not found".to_owned(),
            });
        }
        let tokenizer =
            Tokenizer::from_file(&tokenizer_path).map_err(|e| ModelError::Tokenizer {
                path: tokenizer_path.clone(),
                reason: e.to_string(),
            })?;
        let backbone = weights::load_backbone(&config, model_dir, dtype, device)?;
        Self::from_parts(config, backbone, tokenizer)
    }

    pub fn from_parts(
        config: HiggsConfig,
        backbone: Backbone,
        tokenizer: Tokenizer,
    ) -> Result<Self, ModelError> {
        let special = SpecialTokens::resolve(&tokenizer, &config)?;
        Ok(Self {
            config,
            backbone,
            tokenizer,
            special,
        })
    }

    pub fn num_codebooks(&self) -> usize {
        self.config.num_codebooks
    }

    pub fn config(&self) -> &HiggsConfig {
        &self.config
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    pub fn special_tokens(&self) -> &SpecialTokens {
        &self.special
    }

    pub fn new_cache(&self) -> KvCache {
        self.backbone.new_cache()
    }

    /// The prompt the reference serve engine builds for `text` (with `voice` to clone), using
    /// the reference examples' system message.
    pub fn build_prompt(
        &self,
        text: &str,
        voice: Option<&VoicePrompt>,
    ) -> Result<Prompt, ModelError> {
        self.build_prompt_with_system(text, voice, DEFAULT_SYSTEM_PROMPT)
    }

    pub fn build_prompt_with_system(
        &self,
        text: &str,
        voice: Option<&VoicePrompt>,
        system_prompt: &str,
    ) -> Result<Prompt, ModelError> {
        prompt::PromptBuilder {
            tokenizer: &self.tokenizer,
            config: &self.config,
            system_prompt,
        }
        .build(text, voice)
    }

    /// Input embeddings of `prompt` with each `<|AUDIO_OUT|>` expanded into its audio columns,
    /// and the per-position audio flags.
    fn embed_prompt(&self, prompt: &Prompt) -> Result<(Tensor, Vec<bool>), ModelError> {
        let mut pieces = Vec::new();
        let mut audio = Vec::new();
        let mut segments = prompt.audio_segments.iter();
        let mut text_run: Vec<u32> = Vec::new();
        let vocab = self.config.text.vocab_size;
        for &id in &prompt.input_ids {
            if id as usize >= vocab {
                return Err(ModelError::Input(format!(
                    "token id {id} is outside the vocabulary ({vocab})"
                )));
            }
            if id == self.special.audio_in {
                return Err(ModelError::Unsupported(
                    "audio-in (<|AUDIO|>) prompt segments; reference audio goes in as the assistant's audio".to_owned(),
                ));
            }
            if id == self.special.audio_out {
                if !text_run.is_empty() {
                    pieces.push(self.backbone.embed_text(&text_run)?);
                    audio.extend(std::iter::repeat_n(false, text_run.len()));
                    text_run.clear();
                }
                let columns = segments.next().ok_or_else(|| {
                    ModelError::Input(
                        "more <|AUDIO_OUT|> placeholders than audio segments".to_owned(),
                    )
                })?;
                self.check_columns(columns)?;
                pieces.push(self.backbone.embed_audio(columns)?);
                audio.extend(std::iter::repeat_n(true, columns.len()));
            } else {
                text_run.push(id);
            }
        }
        if !text_run.is_empty() {
            pieces.push(self.backbone.embed_text(&text_run)?);
            audio.extend(std::iter::repeat_n(false, text_run.len()));
        }
        if segments.next().is_some() {
            return Err(ModelError::Input(
                "more audio segments than <|AUDIO_OUT|> placeholders".to_owned(),
            ));
        }
        if pieces.is_empty() {
            return Err(ModelError::Input("empty prompt".to_owned()));
        }
        Ok((Tensor::cat(&pieces, 0)?, audio))
    }

    fn check_columns(&self, columns: &[Vec<u32>]) -> Result<(), ModelError> {
        let (k, v) = (self.config.num_codebooks, self.config.codebook_vocab());
        if columns.is_empty() {
            return Err(ModelError::Input("an empty audio segment".to_owned()));
        }
        for col in columns {
            if col.len() != k || col.iter().any(|&c| c as usize >= v) {
                return Err(ModelError::Input(format!(
                    "an audio column must hold {k} codes below {v}, got {col:?}"
                )));
            }
        }
        Ok(())
    }

    /// A full forward pass over `prompt` into `cache`, with text logits for every position and
    /// audio logits for the audio positions.
    pub fn prefill(
        &self,
        prompt: &Prompt,
        cache: &mut KvCache,
    ) -> Result<PrefillOutput, ModelError> {
        let (embeds, audio) = self.embed_prompt(prompt)?;
        let hidden = self.backbone.forward(&embeds, &audio, cache)?;
        let text_logits = self.backbone.text_logits(&hidden)?;
        let audio_positions: Vec<usize> = audio
            .iter()
            .enumerate()
            .filter_map(|(i, &a)| a.then_some(i))
            .collect();
        let audio_logits = if audio_positions.is_empty() {
            None
        } else {
            let idx = Tensor::from_vec(
                audio_positions
                    .iter()
                    .map(|&p| p as u32)
                    .collect::<Vec<_>>(),
                audio_positions.len(),
                self.backbone.device(),
            )?;
            Some(self.backbone.audio_logits(&hidden.index_select(&idx, 0)?)?)
        };
        Ok(PrefillOutput {
            text_logits,
            audio_logits,
            audio_positions,
        })
    }

    /// Feeds one delayed audio column after what `cache` holds and returns the audio logits for
    /// the next column, `[codebook][codebook_size + 2]`.
    pub fn decode_audio_step(
        &self,
        column: &[u32],
        cache: &mut KvCache,
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        let column = [column.to_vec()];
        self.check_columns(&column)?;
        let embeds = self.backbone.embed_audio(&column)?;
        let hidden = self.backbone.forward(&embeds, &[true], cache)?;
        let logits = self.backbone.audio_logits(&Backbone::last_row(&hidden)?)?;
        Ok(logits.i(0)?.to_vec2::<f32>()?)
    }

    /// Generates speech codes for `text`, cloning `voice` if given. `on_frame` gets each complete
    /// frame (delay pattern undone, one code per codebook) as soon as it is known; `Break` stops
    /// generation. Returns all frames as `[codebook][frame]`, without stream BOS/EOS.
    pub fn generate(
        &self,
        text: &str,
        voice: Option<&VoicePrompt>,
        sampling: &Sampling,
        on_frame: &mut dyn FnMut(&[u32]) -> ControlFlow<()>,
    ) -> Result<Vec<Vec<u32>>, ModelError> {
        let prompt = self.build_prompt(text, voice)?;
        Ok(self
            .generate_from_prompt(&prompt, sampling, on_frame)?
            .codes)
    }

    /// [`Self::generate`] on an already built prompt, keeping the delayed columns.
    pub fn generate_from_prompt(
        &self,
        prompt: &Prompt,
        sampling: &Sampling,
        on_frame: &mut dyn FnMut(&[u32]) -> ControlFlow<()>,
    ) -> Result<Generation, ModelError> {
        sampling.validate()?;
        if prompt.input_ids.last() != Some(&self.special.audio_out_bos) {
            return Err(ModelError::Input(
                "the prompt must end with <|audio_out_bos|> to generate audio".to_owned(),
            ));
        }
        let cfg = &self.config;
        let k = cfg.num_codebooks;
        let (embeds, audio) = self.embed_prompt(prompt)?;
        let mut cache = self.new_cache();
        self.backbone.forward(&embeds, &audio, &mut cache)?;

        // RAS looks back over the whole audio-out stream, the prompt's reference audio included.
        let mut history: Vec<Vec<u32>> = prompt.audio_segments.concat();
        let bos_column = vec![cfg.stream_bos_id; k];
        let mut columns = vec![bos_column.clone()];
        history.push(bos_column);
        let mut delay = DelayState::new(k, cfg.stream_bos_id, cfg.stream_eos_id);
        let mut rng = SeededRng::new(sampling.seed);
        let mut frames: Vec<Vec<u32>> = Vec::new();
        let mut ended_by_eos = false;
        let max_code = cfg.codebook_size as u32 - 1;
        while frames.len() < sampling.max_frames {
            let last = columns.last().cloned().unwrap_or_default();
            let logits = self.decode_audio_step(&last, &mut cache)?;
            let mut tokens = sampling::choose_tokens(&logits, &history, sampling, &mut rng);
            let ended = delay.apply(&mut tokens);
            columns.push(tokens.clone());
            history.push(tokens);
            if ended {
                // The frame this last column would complete is dropped, like the reference's
                // `revert_delay_pattern(...)[:, 1:-1]`.
                ended_by_eos = true;
                break;
            }
            if let Some(frame) = delay::delayed_frame(&columns, frames.len()) {
                let frame: Vec<u32> = frame.into_iter().map(|c| c.min(max_code)).collect();
                let flow = on_frame(&frame);
                frames.push(frame);
                if flow.is_break() {
                    break;
                }
            }
        }
        Ok(Generation {
            codes: prompt::columns_to_rows(&frames, k),
            columns,
            ended_by_eos,
        })
    }
}
