//! The Llama-3 backbone with Higgs' DualFFN layers: audio positions use their own input norm,
//! post-attention norm and MLP; attention, its KV cache and the positions are shared with text.

use candle_core::{DType, Device, IndexOp, Module, Tensor};
use candle_nn::{Embedding, Linear, RmsNorm, VarBuilder};

use super::config::{HiggsConfig, TextConfig};

struct Mlp {
    gate_proj: Linear,
    up_proj: Linear,
    down_proj: Linear,
}

impl Mlp {
    fn load(cfg: &TextConfig, vb: VarBuilder) -> candle_core::Result<Self> {
        let (h, i) = (cfg.hidden_size, cfg.intermediate_size);
        Ok(Self {
            gate_proj: candle_nn::linear_no_bias(h, i, vb.pp("gate_proj"))?,
            up_proj: candle_nn::linear_no_bias(h, i, vb.pp("up_proj"))?,
            down_proj: candle_nn::linear_no_bias(i, h, vb.pp("down_proj"))?,
        })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let gate = candle_nn::ops::silu(&self.gate_proj.forward(x)?)?;
        self.down_proj.forward(&(gate * self.up_proj.forward(x)?)?)
    }
}

struct Attention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    o_proj: Linear,
    num_heads: usize,
    num_kv_heads: usize,
    head_dim: usize,
}

impl Attention {
    fn load(cfg: &TextConfig, vb: VarBuilder) -> candle_core::Result<Self> {
        let (h, hd) = (cfg.hidden_size, cfg.head_dim());
        let (nh, nkv) = (cfg.num_attention_heads, cfg.num_kv_heads());
        Ok(Self {
            q_proj: candle_nn::linear_no_bias(h, nh * hd, vb.pp("q_proj"))?,
            k_proj: candle_nn::linear_no_bias(h, nkv * hd, vb.pp("k_proj"))?,
            v_proj: candle_nn::linear_no_bias(h, nkv * hd, vb.pp("v_proj"))?,
            o_proj: candle_nn::linear_no_bias(nh * hd, h, vb.pp("o_proj"))?,
            num_heads: nh,
            num_kv_heads: nkv,
            head_dim: hd,
        })
    }

    fn forward(
        &self,
        x: &Tensor,
        rope: &RopeSlice,
        mask: Option<&Tensor>,
        cache: &mut LayerCache,
    ) -> candle_core::Result<Tensor> {
        let (b, t, _) = x.dims3()?;
        let shape = |y: Tensor, heads: usize| {
            y.reshape((b, t, heads, self.head_dim))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = shape(self.q_proj.forward(x)?, self.num_heads)?;
        let k = shape(self.k_proj.forward(x)?, self.num_kv_heads)?;
        let v = shape(self.v_proj.forward(x)?, self.num_kv_heads)?;
        let q = candle_nn::rotary_emb::rope(&q, &rope.cos, &rope.sin)?;
        let k = candle_nn::rotary_emb::rope(&k, &rope.cos, &rope.sin)?;
        let (k, v) = cache.append(k, v)?;
        // Grouped-query attention without copying K/V per query head: the `rep` query heads that
        // share a KV head become `rep * t` rows against that head.
        let rep = self.num_heads / self.num_kv_heads;
        let q = q.reshape((b, self.num_kv_heads, rep * t, self.head_dim))?;
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        let scores = (q.matmul(&k.t()?)? * scale)?;
        let scores = match mask {
            Some(m) if rep > 1 => scores.broadcast_add(&m.repeat((1, 1, rep, 1))?)?,
            Some(m) => scores.broadcast_add(m)?,
            None => scores,
        };
        // Softmax in f32 whatever the weights' dtype, as the reference's eager attention does.
        let probs =
            candle_nn::ops::softmax_last_dim(&scores.to_dtype(DType::F32)?)?.to_dtype(v.dtype())?;
        let out = probs
            .matmul(&v)?
            .reshape((b, self.num_heads, t, self.head_dim))?
            .transpose(1, 2)?
            .reshape((b, t, self.num_heads * self.head_dim))?;
        self.o_proj.forward(&out)
    }
}

/// The audio half of a DualFFN layer.
struct AudioPath {
    input_layernorm: RmsNorm,
    post_attention_layernorm: RmsNorm,
    mlp: Mlp,
}

struct Layer {
    self_attn: Attention,
    mlp: Mlp,
    input_layernorm: RmsNorm,
    post_attention_layernorm: RmsNorm,
    audio: Option<AudioPath>,
}

/// Applies `text` to text rows and `audio` to audio rows, each on its own rows only (both are
/// row-wise, so this equals the reference's masked scatter).
fn per_row(
    x: &Tensor,
    rows: &RowKinds,
    text: impl Fn(&Tensor) -> candle_core::Result<Tensor>,
    audio: Option<impl Fn(&Tensor) -> candle_core::Result<Tensor>>,
) -> candle_core::Result<Tensor> {
    match (audio, rows) {
        (None, _) | (_, RowKinds::AllText) => text(x),
        (Some(audio), RowKinds::AllAudio) => audio(x),
        (Some(audio), RowKinds::Mixed(split)) => {
            let t = text(&x.index_select(&split.text, 1)?)?;
            let a = audio(&x.index_select(&split.audio, 1)?)?;
            Tensor::cat(&[&t, &a], 1)?.index_select(&split.restore, 1)
        }
    }
}

impl Layer {
    fn load(cfg: &TextConfig, dual_ffn: bool, vb: VarBuilder) -> candle_core::Result<Self> {
        let (h, eps) = (cfg.hidden_size, cfg.rms_norm_eps);
        let audio = if dual_ffn {
            Some(AudioPath {
                input_layernorm: candle_nn::rms_norm(h, eps, vb.pp("audio_input_layernorm"))?,
                post_attention_layernorm: candle_nn::rms_norm(
                    h,
                    eps,
                    vb.pp("audio_post_attention_layernorm"),
                )?,
                mlp: Mlp::load(cfg, vb.pp("audio_mlp"))?,
            })
        } else {
            None
        };
        Ok(Self {
            self_attn: Attention::load(cfg, vb.pp("self_attn"))?,
            mlp: Mlp::load(cfg, vb.pp("mlp"))?,
            input_layernorm: candle_nn::rms_norm(h, eps, vb.pp("input_layernorm"))?,
            post_attention_layernorm: candle_nn::rms_norm(
                h,
                eps,
                vb.pp("post_attention_layernorm"),
            )?,
            audio,
        })
    }

    fn forward(
        &self,
        x: &Tensor,
        rows: &RowKinds,
        rope: &RopeSlice,
        mask: Option<&Tensor>,
        cache: &mut LayerCache,
    ) -> candle_core::Result<Tensor> {
        let audio = self.audio.as_ref();
        let normed = per_row(
            x,
            rows,
            |y| self.input_layernorm.forward(y),
            audio.map(|a| |y: &Tensor| a.input_layernorm.forward(y)),
        )?;
        let x = (x + self.self_attn.forward(&normed, rope, mask, cache)?)?;
        let ffn = per_row(
            &x,
            rows,
            |y| self.mlp.forward(&self.post_attention_layernorm.forward(y)?),
            audio.map(|a| |y: &Tensor| a.mlp.forward(&a.post_attention_layernorm.forward(y)?)),
        )?;
        x + ffn
    }
}

enum RowKinds {
    AllText,
    AllAudio,
    Mixed(RowSplit),
}

/// Row indices of the text and audio positions, and the permutation that puts
/// `cat(text rows, audio rows)` back in sequence order.
struct RowSplit {
    text: Tensor,
    audio: Tensor,
    restore: Tensor,
}

impl RowKinds {
    fn new(audio: &[bool], device: &Device) -> candle_core::Result<Self> {
        if audio.iter().all(|&a| a) {
            return Ok(Self::AllAudio);
        }
        if !audio.iter().any(|&a| a) {
            return Ok(Self::AllText);
        }
        let text_rows: Vec<u32> = (0..audio.len() as u32)
            .filter(|&i| !audio[i as usize])
            .collect();
        let audio_rows: Vec<u32> = (0..audio.len() as u32)
            .filter(|&i| audio[i as usize])
            .collect();
        let mut restore = vec![0u32; audio.len()];
        for (j, &i) in text_rows.iter().chain(&audio_rows).enumerate() {
            restore[i as usize] = j as u32;
        }
        let idx = |v: Vec<u32>| {
            let n = v.len();
            Tensor::from_vec(v, n, device)
        };
        Ok(Self::Mixed(RowSplit {
            text: idx(text_rows)?,
            audio: idx(audio_rows)?,
            restore: idx(restore)?,
        }))
    }
}

/// Keys and values seen so far by one layer, `[batch, kv_heads, seq, head_dim]`, in buffers that
/// grow by [`KV_CHUNK`] positions so a decode step writes one position instead of copying all.
struct LayerCache(candle_nn::kv_cache::KvCache);

/// Positions the KV buffers grow by.
const KV_CHUNK: usize = 512;

impl Default for LayerCache {
    fn default() -> Self {
        Self(candle_nn::kv_cache::KvCache::new(2, KV_CHUNK))
    }
}

impl LayerCache {
    fn append(&mut self, k: Tensor, v: Tensor) -> candle_core::Result<(Tensor, Tensor)> {
        self.0.append(&k, &v)
    }
}

/// The KV cache of a whole generation: one entry per layer, plus how many positions it holds.
/// Not `Clone`: the buffers are written in place.
pub struct KvCache {
    layers: Vec<LayerCache>,
    len: usize,
}

impl KvCache {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Llama-3 RoPE inverse frequencies, computed in f32 like `_compute_llama3_parameters`.
fn inv_freqs(cfg: &TextConfig) -> Vec<f32> {
    let dim = cfg.head_dim();
    let base = cfg.rope_theta as f64;
    let mut inv: Vec<f32> = (0..dim / 2)
        .map(|i| (1.0 / base.powf((2 * i) as f64 / dim as f64)) as f32)
        .collect();
    if let Some(s) = cfg
        .rope_scaling
        .as_ref()
        .filter(|s| s.rope_type == "llama3")
    {
        let old_ctx = s.original_max_position_embeddings as f32;
        let low_wavelen = old_ctx / s.low_freq_factor;
        let high_wavelen = old_ctx / s.high_freq_factor;
        for f in inv.iter_mut() {
            let wavelen = 2.0 * std::f32::consts::PI / *f;
            if wavelen > low_wavelen {
                *f /= s.factor;
            } else if wavelen >= high_wavelen {
                let smooth = (old_ctx / wavelen - s.low_freq_factor)
                    / (s.high_freq_factor - s.low_freq_factor);
                *f = (1.0 - smooth) * *f / s.factor + smooth * *f;
            }
        }
    }
    inv
}

struct RopeSlice {
    cos: Tensor,
    sin: Tensor,
}

pub struct Backbone {
    embed_tokens: Embedding,
    audio_codebook_embeddings: Embedding,
    layers: Vec<Layer>,
    norm: RmsNorm,
    text_lm_head: Linear,
    audio_lm_head: Linear,
    inv_freq: Vec<f32>,
    num_codebooks: usize,
    codebook_vocab: usize,
    audio_embed_avg: bool,
    device: Device,
    dtype: DType,
}

impl Backbone {
    /// Builds the model from `vb` with the checkpoint's own tensor names (no `model.` prefix).
    pub fn load(cfg: &HiggsConfig, vb: VarBuilder) -> candle_core::Result<Self> {
        let t = &cfg.text;
        let cv = cfg.codebook_vocab();
        let layers = cfg
            .dual_ffn_layers
            .iter()
            .enumerate()
            .map(|(i, &dual)| Layer::load(t, dual, vb.pp(format!("layers.{i}"))))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let proj = vb.pp("audio_decoder_proj");
        Ok(Self {
            embed_tokens: candle_nn::embedding(t.vocab_size, t.hidden_size, vb.pp("embed_tokens"))?,
            audio_codebook_embeddings: candle_nn::embedding(
                cfg.num_codebooks * cv,
                t.hidden_size,
                vb.pp("audio_codebook_embeddings"),
            )?,
            layers,
            norm: candle_nn::rms_norm(t.hidden_size, t.rms_norm_eps, vb.pp("norm"))?,
            text_lm_head: candle_nn::linear_no_bias(
                t.hidden_size,
                t.vocab_size,
                proj.pp("text_lm_head"),
            )?,
            audio_lm_head: candle_nn::linear_no_bias(
                t.hidden_size,
                cfg.num_codebooks * cv,
                proj.pp("audio_lm_head"),
            )?,
            inv_freq: inv_freqs(t),
            num_codebooks: cfg.num_codebooks,
            codebook_vocab: cv,
            audio_embed_avg: cfg.audio_embed_avg,
            device: vb.device().clone(),
            dtype: vb.dtype(),
        })
    }

    pub fn new_cache(&self) -> KvCache {
        KvCache {
            layers: (0..self.layers.len())
                .map(|_| LayerCache::default())
                .collect(),
            len: 0,
        }
    }

    /// Text token embeddings, `[n, hidden]`.
    pub fn embed_text(&self, ids: &[u32]) -> candle_core::Result<Tensor> {
        let ids = Tensor::new(ids, &self.device)?;
        self.embed_tokens.forward(&ids)
    }

    /// Audio column embeddings (`columns[i]` is one delayed column, a code per codebook), summed
    /// (or averaged) over codebooks as `_embed_audio_ids` does: `[n, hidden]`.
    pub fn embed_audio(&self, columns: &[Vec<u32>]) -> candle_core::Result<Tensor> {
        let n = columns.len();
        let k = self.num_codebooks;
        let mut ids = Vec::with_capacity(n * k);
        for col in columns {
            for (cb, &code) in col.iter().enumerate() {
                ids.push(code + (cb * self.codebook_vocab) as u32);
            }
        }
        let ids = Tensor::from_vec(ids, n * k, &self.device)?;
        let emb = self.audio_codebook_embeddings.forward(&ids)?;
        let emb = emb.reshape((n, k, ()))?;
        if self.audio_embed_avg {
            emb.mean(1)
        } else {
            emb.sum(1)
        }
    }

    fn rope(&self, start: usize, len: usize) -> candle_core::Result<RopeSlice> {
        let half = self.inv_freq.len();
        let mut angles = Vec::with_capacity(len * half);
        for p in start..start + len {
            // f32 product, as the reference's `inv_freq @ position_ids` in float32.
            angles.extend(self.inv_freq.iter().map(|&f| f * p as f32));
        }
        let angles = Tensor::from_vec(angles, (len, half), &self.device)?;
        Ok(RopeSlice {
            cos: angles.cos()?.to_dtype(self.dtype)?,
            sin: angles.sin()?.to_dtype(self.dtype)?,
        })
    }

    /// Runs `embeds` (`[t, hidden]`) through the backbone after what `cache` holds, appending to
    /// it; `audio[i]` says whether row `i` is an audio position. Returns the final-normed hidden
    /// states `[t, hidden]`.
    pub fn forward(
        &self,
        embeds: &Tensor,
        audio: &[bool],
        cache: &mut KvCache,
    ) -> candle_core::Result<Tensor> {
        let t = embeds.dim(0)?;
        if audio.len() != t {
            candle_core::bail!("{} audio flags for {t} positions", audio.len());
        }
        let start = cache.len;
        let rows = RowKinds::new(audio, &self.device)?;
        let rope = self.rope(start, t)?;
        let mask = if t > 1 {
            let total = start + t;
            let mut m = Vec::with_capacity(t * total);
            for i in 0..t {
                m.extend((0..total).map(|j| {
                    if j > start + i {
                        f32::NEG_INFINITY
                    } else {
                        0.0
                    }
                }));
            }
            Some(Tensor::from_vec(m, (1, 1, t, total), &self.device)?.to_dtype(self.dtype)?)
        } else {
            None
        };
        let mut x = embeds.to_dtype(self.dtype)?.unsqueeze(0)?;
        for (layer, lc) in self.layers.iter().zip(cache.layers.iter_mut()) {
            x = layer.forward(&x, &rows, &rope, mask.as_ref(), lc)?;
        }
        cache.len += t;
        self.norm.forward(&x)?.squeeze(0)
    }

    /// Text logits `[t, vocab]` (f32) for hidden states `[t, hidden]`.
    pub fn text_logits(&self, hidden: &Tensor) -> candle_core::Result<Tensor> {
        self.text_lm_head.forward(hidden)?.to_dtype(DType::F32)
    }

    /// Audio logits `[t, num_codebooks, codebook_vocab]` (f32) for hidden states `[t, hidden]`.
    pub fn audio_logits(&self, hidden: &Tensor) -> candle_core::Result<Tensor> {
        let t = hidden.dim(0)?;
        self.audio_lm_head
            .forward(hidden)?
            .reshape((t, self.num_codebooks, self.codebook_vocab))?
            .to_dtype(DType::F32)
    }

    /// The last row of `hidden`, kept 2-D.
    pub fn last_row(hidden: &Tensor) -> candle_core::Result<Tensor> {
        let t = hidden.dim(0)?;
        hidden.i(t - 1..t)
    }

    pub fn device(&self) -> &Device {
        &self.device
    }
}
