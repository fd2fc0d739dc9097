//! The voice-cloning prompt in the Llama-3 chat format, as the reference serve engine builds it
//! (`prepare_chatml_sample` + the `force_audio_gen` postfix + the collator's audio handling).

use tokenizers::Tokenizer;

use super::ModelError;
use super::config::HiggsConfig;
use super::delay::apply_delay_pattern;

/// The reference examples' system message: an instruction and a scene description.
pub const DEFAULT_SYSTEM_PROMPT: &str = "Generate audio following instruction.\n\n<|scene_desc_start|>\nAudio is recorded from a quiet room.\n<|scene_desc_end|>";

/// A reference clip to clone: its transcript and its audio-tokenizer codes.
#[derive(Debug, Clone, PartialEq)]
pub struct VoicePrompt {
    pub transcript: String,
    /// `[codebook][frame]`, `num_codebooks` rows of equal length.
    pub codes: Vec<Vec<u32>>,
}

/// A tokenized prompt: text ids with one `<|AUDIO_OUT|>` placeholder per audio segment, and the
/// segments' delayed columns (stream BOS and EOS added, delay pattern applied), in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    pub input_ids: Vec<u32>,
    /// One entry per `<|AUDIO_OUT|>` placeholder: its delayed columns, a code per codebook each.
    pub audio_segments: Vec<Vec<Vec<u32>>>,
}

/// Token ids the prompt and generation need, looked up in the tokenizer by the config's names.
#[derive(Debug, Clone)]
pub struct SpecialTokens {
    pub audio_out: u32,
    pub audio_in: u32,
    pub audio_out_bos: u32,
    pub audio_eos: u32,
}

impl SpecialTokens {
    pub fn resolve(tokenizer: &Tokenizer, cfg: &HiggsConfig) -> Result<Self, ModelError> {
        let id = |token: &str| {
            tokenizer
                .token_to_id(token)
                .ok_or_else(|| ModelError::MissingSpecialToken(token.to_owned()))
        };
        let checked = |token: &str, config: Option<u32>| -> Result<u32, ModelError> {
            let found = id(token)?;
            match config {
                Some(c) if c != found => Err(ModelError::SpecialTokenMismatch {
                    token: token.to_owned(),
                    tokenizer: found,
                    config: c,
                }),
                _ => Ok(found),
            }
        };
        for token in [
            "<|begin_of_text|>",
            "<|start_header_id|>",
            "<|end_header_id|>",
            "<|eot_id|>",
            cfg.audio_bos_token.as_str(),
        ] {
            id(token)?;
        }
        Ok(Self {
            audio_out: checked(&cfg.audio_out_token, Some(cfg.audio_out_token_id))?,
            audio_in: checked(&cfg.audio_in_token, Some(cfg.audio_in_token_id))?,
            audio_out_bos: checked(&cfg.audio_out_bos_token, cfg.audio_out_bos_token_id)?,
            audio_eos: checked(&cfg.audio_eos_token, cfg.audio_eos_token_id)?,
        })
    }
}

/// Builds prompts with the tokenizer and config of one checkpoint.
pub struct PromptBuilder<'a> {
    pub tokenizer: &'a Tokenizer,
    pub config: &'a HiggsConfig,
    pub system_prompt: &'a str,
}

impl PromptBuilder<'_> {
    fn encode(&self, text: &str, out: &mut Vec<u32>) -> Result<(), ModelError> {
        let enc = self
            .tokenizer
            .encode(text, false)
            .map_err(|e| ModelError::Encode(e.to_string()))?;
        out.extend_from_slice(enc.get_ids());
        Ok(())
    }

    fn turn(&self, first: bool, role: &str, out: &mut Vec<u32>) -> Result<(), ModelError> {
        let bos = if first { "<|begin_of_text|>" } else { "" };
        self.encode(
            &format!("{bos}<|start_header_id|>{role}<|end_header_id|>\n\n"),
            out,
        )
    }

    /// system → (user: transcript → assistant: reference audio) → user: text → assistant, ending
    /// in `<|audio_out_bos|>` so generation starts with audio.
    pub fn build(&self, text: &str, voice: Option<&VoicePrompt>) -> Result<Prompt, ModelError> {
        let cfg = self.config;
        let mut ids = Vec::new();
        let mut audio_segments = Vec::new();
        self.turn(true, "system", &mut ids)?;
        self.encode(self.system_prompt, &mut ids)?;
        self.encode("<|eot_id|>", &mut ids)?;
        if let Some(voice) = voice {
            validate_voice(voice, cfg)?;
            self.turn(false, "user", &mut ids)?;
            self.encode(&voice.transcript, &mut ids)?;
            self.encode("<|eot_id|>", &mut ids)?;
            self.turn(false, "assistant", &mut ids)?;
            self.encode(
                &format!(
                    "{}{}{}",
                    cfg.audio_out_bos_token, cfg.audio_out_token, cfg.audio_eos_token
                ),
                &mut ids,
            )?;
            self.encode("<|eot_id|>", &mut ids)?;
            let framed: Vec<Vec<u32>> = voice
                .codes
                .iter()
                .map(|row| {
                    let mut r = Vec::with_capacity(row.len() + 2);
                    r.push(cfg.stream_bos_id);
                    r.extend_from_slice(row);
                    r.push(cfg.stream_eos_id);
                    r
                })
                .collect();
            let delayed = apply_delay_pattern(&framed, cfg.stream_bos_id, cfg.stream_eos_id);
            audio_segments.push(rows_to_columns(&delayed));
        }
        self.turn(false, "user", &mut ids)?;
        self.encode(text, &mut ids)?;
        self.encode("<|eot_id|>", &mut ids)?;
        self.encode(
            &format!(
                "<|start_header_id|>assistant<|end_header_id|>\n\n{}",
                cfg.audio_out_bos_token
            ),
            &mut ids,
        )?;
        Ok(Prompt {
            input_ids: ids,
            audio_segments,
        })
    }
}

fn validate_voice(voice: &VoicePrompt, cfg: &HiggsConfig) -> Result<(), ModelError> {
    if voice.codes.len() != cfg.num_codebooks {
        return Err(ModelError::Voice(format!(
            "{} codebooks of codes, the model uses {}",
            voice.codes.len(),
            cfg.num_codebooks
        )));
    }
    let frames = voice.codes[0].len();
    if frames == 0 {
        return Err(ModelError::Voice(
            "the reference clip has no frames".to_owned(),
        ));
    }
    if voice.codes.iter().any(|r| r.len() != frames) {
        return Err(ModelError::Voice(
            "codebooks of different lengths".to_owned(),
        ));
    }
    if let Some(bad) = voice
        .codes
        .iter()
        .flatten()
        .find(|&&c| c as usize >= cfg.codebook_size)
    {
        return Err(ModelError::Voice(format!(
            "code {bad} is out of range (codebook size {})",
            cfg.codebook_size
        )));
    }
    Ok(())
}

/// `[codebook][column]` → `[column][codebook]`.
pub fn rows_to_columns(rows: &[Vec<u32>]) -> Vec<Vec<u32>> {
    let width = rows.first().map_or(0, Vec::len);
    (0..width)
        .map(|c| rows.iter().map(|r| r[c]).collect())
        .collect()
}

/// `[column][codebook]` → `[codebook][column]` for `num_codebooks` rows.
pub fn columns_to_rows(columns: &[Vec<u32>], num_codebooks: usize) -> Vec<Vec<u32>> {
    (0..num_codebooks)
        .map(|k| columns.iter().map(|c| c[k]).collect())
        .collect()
}
