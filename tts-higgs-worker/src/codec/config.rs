//! The tokenizer's `config.json`, as written by `scripts/higgs-reference/convert_tokenizer.py`.
//!
//! The published config only names the fields the Python constructor takes
//! (`ratios`, `D`, `n_q`, `bins`, `codebook_dim`, ...); sizes the reference hard-codes
//! (DAC widths 64 and 1024, HuBERT-base) are written out by the converter, read from the
//! weights, so a smaller or different checkpoint loads without code changes. Every field
//! defaults to what the reference uses for the published tokenizer.

use serde::Deserialize;

use super::CodecError;

/// Sizes of the HuBERT model that gives the semantic features (transformers' `HubertConfig`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct HubertConfig {
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub conv_dim: Vec<usize>,
    pub conv_kernel: Vec<usize>,
    pub conv_stride: Vec<usize>,
    pub conv_bias: bool,
    /// `"group"` (HuBERT-base) or `"layer"`.
    pub feat_extract_norm: String,
    pub feat_proj_layer_norm: bool,
    pub num_conv_pos_embeddings: usize,
    pub num_conv_pos_embedding_groups: usize,
    pub layer_norm_eps: f64,
    pub do_stable_layer_norm: bool,
    pub hidden_act: String,
    pub feat_extract_activation: String,
}

impl Default for HubertConfig {
    fn default() -> Self {
        Self {
            hidden_size: 768,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            intermediate_size: 3072,
            conv_dim: vec![512; 7],
            conv_kernel: vec![10, 3, 3, 3, 3, 2, 2],
            conv_stride: vec![5, 2, 2, 2, 2, 2, 2],
            conv_bias: false,
            feat_extract_norm: "group".into(),
            feat_proj_layer_norm: true,
            num_conv_pos_embeddings: 128,
            num_conv_pos_embedding_groups: 16,
            layer_norm_eps: 1e-5,
            do_stable_layer_norm: false,
            hidden_act: "gelu".into(),
            feat_extract_activation: "gelu".into(),
        }
    }
}

/// The semantic feature encoder in front of the quantizer (`semantic_module.Encoder`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct SemanticEncoderConfig {
    pub kernel_size: usize,
    pub channel_ratios: Vec<f64>,
    pub strides: Vec<usize>,
    pub block_dilations: Vec<usize>,
    pub unit_kernel_size: usize,
}

impl Default for SemanticEncoderConfig {
    fn default() -> Self {
        Self {
            kernel_size: 3,
            channel_ratios: vec![1.0, 1.0],
            strides: vec![1, 1],
            block_dilations: vec![1, 1],
            unit_kernel_size: 3,
        }
    }
}

/// `config.json` of the converted tokenizer.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct CodecConfig {
    /// Audio rate of the codec (24 000 for the published tokenizer).
    pub sample_rate: u32,
    /// DAC down-sampling ratios; the decoder up-samples by the same list.
    pub ratios: Vec<usize>,
    /// DAC latent width.
    #[serde(rename = "D")]
    pub d: usize,
    /// Number of residual codebooks.
    pub n_q: usize,
    /// Entries per codebook.
    pub bins: usize,
    /// Width of the codebook vectors (the quantizer projects to it); `None` means no projection.
    pub codebook_dim: Option<usize>,
    /// `"classic"` is the only mode the reference ships; kept for validation.
    pub semantic_techer: String,
    /// DAC encoder's first width (the reference hard-codes 64).
    pub encoder_dim: usize,
    /// DAC decoder's first width (the reference hard-codes 1024).
    pub decoder_dim: usize,
    /// Width of the semantic features (HuBERT hidden size; 768 for HuBERT-base).
    pub semantic_dim: usize,
    /// Rate the semantic model runs at.
    pub semantic_sample_rate: u32,
    /// `"step_down"` (keep every k-th semantic frame) is what the reference uses.
    pub downsample_mode: String,
    /// Divides `D + semantic_dim` to give the quantizer width.
    pub vq_scale: usize,
    pub semantic_encoder: SemanticEncoderConfig,
    pub hubert: HubertConfig,
}

impl Default for CodecConfig {
    fn default() -> Self {
        Self {
            sample_rate: 24_000,
            ratios: vec![8, 5, 4, 2, 3],
            d: 256,
            n_q: 8,
            bins: 1024,
            codebook_dim: Some(64),
            semantic_techer: "hubert_base_general".into(),
            encoder_dim: 64,
            decoder_dim: 1024,
            semantic_dim: 768,
            semantic_sample_rate: 16_000,
            downsample_mode: "step_down".into(),
            vq_scale: 1,
            semantic_encoder: SemanticEncoderConfig::default(),
            hubert: HubertConfig::default(),
        }
    }
}

impl CodecConfig {
    /// Samples per frame at `sample_rate`.
    pub fn hop_length(&self) -> usize {
        self.ratios.iter().product()
    }

    /// Frames per second (`ceil(sample_rate / hop)`, as the reference computes it).
    pub fn frame_rate(&self) -> f64 {
        (self.sample_rate as f64 / self.hop_length() as f64).ceil()
    }

    /// Width the quantizer works in.
    pub fn quantizer_dim(&self) -> usize {
        (self.d + self.semantic_dim) / self.vq_scale.max(1)
    }

    /// How many semantic frames make one codec frame (`semantic_downsample_factor`).
    pub fn semantic_downsample_factor(&self) -> usize {
        let ratio = self.sample_rate as f64 / self.semantic_sample_rate as f64;
        (self.hop_length() as f64 / ratio / 320.0) as usize
    }

    pub(crate) fn validate(&self) -> Result<(), CodecError> {
        let bad = |msg: String| Err(CodecError::InvalidConfig(msg));
        if self.ratios.is_empty() || self.ratios.contains(&0) {
            return bad(format!(
                "ratios must be non-empty and positive, got {:?}",
                self.ratios
            ));
        }
        if self.sample_rate == 0 || self.semantic_sample_rate == 0 {
            return bad("sample rates must be positive".into());
        }
        if self.n_q == 0 || self.bins == 0 || self.d == 0 || self.vq_scale == 0 {
            return bad("n_q, bins, D and vq_scale must be positive".into());
        }
        if self.decoder_dim >> self.ratios.len() == 0 {
            return bad(format!(
                "decoder_dim {} cannot be halved {} times",
                self.decoder_dim,
                self.ratios.len()
            ));
        }
        if self.downsample_mode != "step_down" {
            return bad(format!(
                "downsample_mode {:?} is not supported (only \"step_down\")",
                self.downsample_mode
            ));
        }
        let h = &self.hubert;
        if h.hidden_size != self.semantic_dim {
            return bad(format!(
                "hubert.hidden_size {} differs from semantic_dim {}",
                h.hidden_size, self.semantic_dim
            ));
        }
        if h.num_attention_heads == 0 || !h.hidden_size.is_multiple_of(h.num_attention_heads) {
            return bad(format!(
                "hubert.hidden_size {} is not divisible by {} heads",
                h.hidden_size, h.num_attention_heads
            ));
        }
        if h.conv_dim.is_empty()
            || h.conv_dim.len() != h.conv_kernel.len()
            || h.conv_dim.len() != h.conv_stride.len()
        {
            return bad(
                "hubert conv_dim, conv_kernel and conv_stride must have one equal, non-zero length"
                    .into(),
            );
        }
        if h.do_stable_layer_norm {
            return bad("hubert do_stable_layer_norm=true is not supported".into());
        }
        if h.feat_extract_norm != "group" && h.feat_extract_norm != "layer" {
            return bad(format!(
                "hubert feat_extract_norm {:?} is not supported",
                h.feat_extract_norm
            ));
        }
        for act in [&h.hidden_act, &h.feat_extract_activation] {
            if act != "gelu" {
                return bad(format!(
                    "hubert activation {act:?} is not supported (only \"gelu\")"
                ));
            }
        }
        let s = &self.semantic_encoder;
        if s.channel_ratios.len() != s.strides.len() {
            return bad("semantic_encoder channel_ratios and strides differ in length".into());
        }
        Ok(())
    }
}
