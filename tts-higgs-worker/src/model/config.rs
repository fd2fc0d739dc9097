//! The checkpoint's `config.json`: every size the model uses comes from here, so the tiny test
//! config and the published one go through the same code.

use std::path::Path;

use serde::Deserialize;

use super::ModelError;

/// The Llama-3 `rope_scaling` block (only `rope_type: "llama3"` is used by Higgs).
#[derive(Debug, Clone, Deserialize)]
pub struct RopeScaling {
    #[serde(alias = "type")]
    pub rope_type: String,
    #[serde(default = "one")]
    pub factor: f32,
    #[serde(default = "one")]
    pub low_freq_factor: f32,
    #[serde(default = "four")]
    pub high_freq_factor: f32,
    #[serde(default = "default_orig_ctx")]
    pub original_max_position_embeddings: usize,
}

fn one() -> f32 {
    1.0
}
fn four() -> f32 {
    4.0
}
fn default_orig_ctx() -> usize {
    8192
}
fn default_act() -> String {
    "silu".to_owned()
}

/// The backbone's `text_config` (a Llama config).
#[derive(Debug, Clone, Deserialize)]
pub struct TextConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub num_key_value_heads: Option<usize>,
    pub head_dim: Option<usize>,
    pub rms_norm_eps: f64,
    pub rope_theta: f32,
    pub rope_scaling: Option<RopeScaling>,
    #[serde(default)]
    pub attention_bias: bool,
    #[serde(default)]
    pub mlp_bias: bool,
    #[serde(default = "default_act")]
    pub hidden_act: String,
}

impl TextConfig {
    pub fn num_kv_heads(&self) -> usize {
        self.num_key_value_heads.unwrap_or(self.num_attention_heads)
    }

    pub fn head_dim(&self) -> usize {
        self.head_dim
            .unwrap_or(self.hidden_size / self.num_attention_heads)
    }
}

/// `use_audio_out_self_attention` is written as `0` in the published config, as a bool elsewhere.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(untagged)]
enum BoolOrInt {
    Bool(bool),
    Int(i64),
}

impl Default for BoolOrInt {
    fn default() -> Self {
        Self::Bool(false)
    }
}

impl BoolOrInt {
    fn get(self) -> bool {
        match self {
            Self::Bool(b) => b,
            Self::Int(i) => i != 0,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
struct RawConfig {
    text_config: TextConfig,
    audio_adapter_type: String,
    audio_dual_ffn_layers: Option<Vec<usize>>,
    #[serde(default)]
    audio_embed_avg: bool,
    #[serde(default)]
    audio_decoder_proj_num_layers: usize,
    #[serde(default)]
    use_delay_pattern: bool,
    #[serde(default)]
    skip_audio_tower: bool,
    #[serde(default)]
    use_audio_out_embed_projector: bool,
    #[serde(default)]
    use_audio_out_self_attention: BoolOrInt,
    #[serde(default)]
    use_rq_transformer: bool,
    audio_num_codebooks: usize,
    audio_codebook_size: usize,
    audio_stream_bos_id: u32,
    audio_stream_eos_id: u32,
    #[serde(default = "audio_bos")]
    audio_bos_token: String,
    #[serde(default = "audio_eos")]
    audio_eos_token: String,
    #[serde(default = "audio_out_bos")]
    audio_out_bos_token: String,
    #[serde(default = "audio_in")]
    audio_in_token: String,
    #[serde(default = "audio_out")]
    audio_out_token: String,
    audio_in_token_idx: u32,
    audio_out_token_idx: u32,
    audio_out_bos_token_id: Option<u32>,
    audio_eos_token_id: Option<u32>,
}

fn audio_bos() -> String {
    "<|audio_bos|>".to_owned()
}
fn audio_eos() -> String {
    "<|audio_eos|>".to_owned()
}
fn audio_out_bos() -> String {
    "<|audio_out_bos|>".to_owned()
}
fn audio_in() -> String {
    "<|AUDIO|>".to_owned()
}
fn audio_out() -> String {
    "<|AUDIO_OUT|>".to_owned()
}

/// The validated Higgs config: the parts of `config.json` this implementation uses.
#[derive(Debug, Clone)]
pub struct HiggsConfig {
    pub text: TextConfig,
    /// Per backbone layer: whether it has the audio FFN path (DualFFN) or is a plain Llama layer.
    pub dual_ffn_layers: Vec<bool>,
    pub audio_embed_avg: bool,
    pub num_codebooks: usize,
    /// Codes per codebook without the two stream specials (1024 for the real checkpoint).
    pub codebook_size: usize,
    pub stream_bos_id: u32,
    pub stream_eos_id: u32,
    pub audio_bos_token: String,
    pub audio_eos_token: String,
    pub audio_out_bos_token: String,
    pub audio_in_token: String,
    pub audio_out_token: String,
    pub audio_in_token_id: u32,
    pub audio_out_token_id: u32,
    pub audio_out_bos_token_id: Option<u32>,
    pub audio_eos_token_id: Option<u32>,
}

impl HiggsConfig {
    pub fn from_file(path: &Path) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|source| ModelError::Io {
            path: path.to_owned(),
            source,
        })?;
        let raw: RawConfig = serde_json::from_str(&text).map_err(|source| ModelError::Config {
            path: path.to_owned(),
            source,
        })?;
        Self::from_raw(raw)
    }

    pub fn from_json(json: &str) -> Result<Self, ModelError> {
        let raw: RawConfig = serde_json::from_str(json).map_err(|source| ModelError::Config {
            path: "config.json".into(),
            source,
        })?;
        Self::from_raw(raw)
    }

    fn from_raw(raw: RawConfig) -> Result<Self, ModelError> {
        let unsupported = |what: &str| Err(ModelError::Unsupported(what.to_owned()));
        let n_layers = raw.text_config.num_hidden_layers;
        let listed = raw.audio_dual_ffn_layers.clone().unwrap_or_default();
        if let Some(bad) = listed.iter().find(|&&l| l >= n_layers) {
            return Err(ModelError::Unsupported(format!(
                "audio_dual_ffn_layers names layer {bad}, the backbone has {n_layers}"
            )));
        }
        let dual_ffn_layers: Vec<bool> = (0..n_layers).map(|l| listed.contains(&l)).collect();
        match raw.audio_adapter_type.as_str() {
            "dual_ffn" | "stack" => {}
            // The published checkpoint lists every layer, so no layer is fast-forwarded.
            "dual_ffn_fast_forward" if dual_ffn_layers.iter().all(|&d| d) => {}
            "dual_ffn_fast_forward" => {
                return unsupported(
                    "dual_ffn_fast_forward with fast-forward layers (not every layer in audio_dual_ffn_layers)",
                );
            }
            other => {
                return Err(ModelError::Unsupported(format!(
                    "audio_adapter_type `{other}`"
                )));
            }
        }
        let dual_ffn_layers = if raw.audio_adapter_type == "stack" {
            vec![false; n_layers]
        } else {
            dual_ffn_layers
        };
        if !raw.skip_audio_tower {
            return unsupported("an audio (whisper) tower: skip_audio_tower is false");
        }
        if raw.audio_decoder_proj_num_layers != 0 {
            return unsupported("audio_decoder_proj_num_layers > 0");
        }
        if raw.use_audio_out_embed_projector {
            return unsupported("use_audio_out_embed_projector");
        }
        if raw.use_audio_out_self_attention.get() {
            return unsupported("use_audio_out_self_attention");
        }
        if raw.use_rq_transformer {
            return unsupported("use_rq_transformer");
        }
        if !raw.use_delay_pattern {
            return unsupported(
                "generation without the delay pattern (use_delay_pattern is false)",
            );
        }
        let t = &raw.text_config;
        if t.hidden_act != "silu" {
            return Err(ModelError::Unsupported(format!(
                "hidden_act `{}`",
                t.hidden_act
            )));
        }
        if t.attention_bias || t.mlp_bias {
            return unsupported("attention or MLP biases");
        }
        if t.num_attention_heads == 0
            || t.num_kv_heads() == 0
            || !t.num_attention_heads.is_multiple_of(t.num_kv_heads())
        {
            return unsupported(
                "num_attention_heads not a positive multiple of num_key_value_heads",
            );
        }
        if t.hidden_size == 0 || t.head_dim() == 0 || t.head_dim() % 2 == 1 {
            return unsupported("a zero hidden size or an odd head_dim");
        }
        if let Some(s) = t
            .rope_scaling
            .as_ref()
            .filter(|s| s.rope_type != "llama3" && s.rope_type != "default")
        {
            return Err(ModelError::Unsupported(format!(
                "rope_type `{}`",
                s.rope_type
            )));
        }
        if raw.audio_num_codebooks == 0 {
            return unsupported("audio_num_codebooks = 0");
        }
        let specials = raw.audio_codebook_size as u32;
        if raw.audio_stream_bos_id != specials || raw.audio_stream_eos_id != specials + 1 {
            return unsupported(
                "stream BOS/EOS ids other than audio_codebook_size and audio_codebook_size + 1",
            );
        }
        Ok(Self {
            dual_ffn_layers,
            audio_embed_avg: raw.audio_embed_avg,
            num_codebooks: raw.audio_num_codebooks,
            codebook_size: raw.audio_codebook_size,
            stream_bos_id: raw.audio_stream_bos_id,
            stream_eos_id: raw.audio_stream_eos_id,
            audio_bos_token: raw.audio_bos_token,
            audio_eos_token: raw.audio_eos_token,
            audio_out_bos_token: raw.audio_out_bos_token,
            audio_in_token: raw.audio_in_token,
            audio_out_token: raw.audio_out_token,
            audio_in_token_id: raw.audio_in_token_idx,
            audio_out_token_id: raw.audio_out_token_idx,
            audio_out_bos_token_id: raw.audio_out_bos_token_id,
            audio_eos_token_id: raw.audio_eos_token_id,
            text: raw.text_config,
        })
    }

    /// Logits per codebook: the codes plus stream BOS and EOS.
    pub fn codebook_vocab(&self) -> usize {
        self.codebook_size + 2
    }
}
