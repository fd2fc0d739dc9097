//! HuBERT (transformers' `HubertModel`, post-layer-norm variant as in HuBERT-base), inference
//! only, returning every hidden state so the tokenizer can average them.

use candle_core::{D, Result, Tensor};
use candle_nn::{LayerNorm, Module, VarBuilder};

use super::config::HubertConfig;
use super::layers::{Conv1d, ConvSpec, Linear};

/// Per-channel normalisation over time (`GroupNorm` with one group per channel).
#[derive(Debug, Clone)]
struct ChannelNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl ChannelNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mean = x.mean_keepdim(D::Minus1)?;
        let centred = x.broadcast_sub(&mean)?;
        let var = centred.sqr()?.mean_keepdim(D::Minus1)?;
        let y = centred.broadcast_div(&(var + self.eps)?.sqrt()?)?;
        y.broadcast_mul(&self.weight)?.broadcast_add(&self.bias)
    }
}

#[derive(Debug, Clone)]
enum ConvNorm {
    None,
    Group(ChannelNorm),
    Layer(LayerNorm),
}

#[derive(Debug, Clone)]
struct ConvLayer {
    conv: Conv1d,
    norm: ConvNorm,
}

fn layer_norm(vb: VarBuilder, dim: usize, eps: f64) -> Result<LayerNorm> {
    Ok(LayerNorm::new(
        vb.get(dim, "weight")?,
        vb.get(dim, "bias")?,
        eps,
    ))
}

#[derive(Debug, Clone)]
struct EncoderLayer {
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
    attn_norm: LayerNorm,
    ff_in: Linear,
    ff_out: Linear,
    final_norm: LayerNorm,
}

#[derive(Debug, Clone)]
pub(crate) struct Hubert {
    conv_layers: Vec<ConvLayer>,
    proj_norm: Option<LayerNorm>,
    proj: Linear,
    pos_conv: Conv1d,
    pos_trim: bool,
    enc_norm: LayerNorm,
    layers: Vec<EncoderLayer>,
    heads: usize,
}

impl Hubert {
    pub fn load(vb: VarBuilder, cfg: &HubertConfig) -> Result<Self> {
        let h = cfg.hidden_size;
        let eps = cfg.layer_norm_eps;
        let vbf = vb.pp("feature_extractor").pp("conv_layers");
        let mut conv_layers = Vec::new();
        let mut in_ch = 1;
        for i in 0..cfg.conv_dim.len() {
            let out = cfg.conv_dim[i];
            let vbl = vbf.pp(i);
            let conv = Conv1d::load(
                vbl.pp("conv"),
                ConvSpec {
                    in_ch,
                    out_ch: out,
                    kernel: cfg.conv_kernel[i],
                    padding: 0,
                    stride: cfg.conv_stride[i],
                    dilation: 1,
                    groups: 1,
                    bias: cfg.conv_bias,
                },
            )?;
            let norm = match (cfg.feat_extract_norm.as_str(), i) {
                ("group", 0) => ConvNorm::Group(ChannelNorm {
                    weight: vbl
                        .pp("layer_norm")
                        .get(out, "weight")?
                        .reshape((1, out, 1))?,
                    bias: vbl
                        .pp("layer_norm")
                        .get(out, "bias")?
                        .reshape((1, out, 1))?,
                    eps: 1e-5,
                }),
                ("layer", _) => ConvNorm::Layer(layer_norm(vbl.pp("layer_norm"), out, 1e-5)?),
                _ => ConvNorm::None,
            };
            conv_layers.push(ConvLayer { conv, norm });
            in_ch = out;
        }
        let vbp = vb.pp("feature_projection");
        let proj_norm = if cfg.feat_proj_layer_norm {
            Some(layer_norm(vbp.pp("layer_norm"), in_ch, eps)?)
        } else {
            None
        };
        let proj = Linear::load(vbp.pp("projection"), in_ch, h)?;
        let vbe = vb.pp("encoder");
        let k = cfg.num_conv_pos_embeddings;
        let pos_conv = Conv1d::load(
            vbe.pp("pos_conv_embed").pp("conv"),
            ConvSpec {
                in_ch: h,
                out_ch: h,
                kernel: k,
                padding: k / 2,
                stride: 1,
                dilation: 1,
                groups: cfg.num_conv_pos_embedding_groups,
                bias: true,
            },
        )?;
        let enc_norm = layer_norm(vbe.pp("layer_norm"), h, eps)?;
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| {
                let vbl = vbe.pp("layers").pp(i);
                let att = vbl.pp("attention");
                let ff = vbl.pp("feed_forward");
                Ok(EncoderLayer {
                    q: Linear::load(att.pp("q_proj"), h, h)?,
                    k: Linear::load(att.pp("k_proj"), h, h)?,
                    v: Linear::load(att.pp("v_proj"), h, h)?,
                    out: Linear::load(att.pp("out_proj"), h, h)?,
                    attn_norm: layer_norm(vbl.pp("layer_norm"), h, eps)?,
                    ff_in: Linear::load(ff.pp("intermediate_dense"), h, cfg.intermediate_size)?,
                    ff_out: Linear::load(ff.pp("output_dense"), cfg.intermediate_size, h)?,
                    final_norm: layer_norm(vbl.pp("final_layer_norm"), h, eps)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            conv_layers,
            proj_norm,
            proj,
            pos_conv,
            pos_trim: k.is_multiple_of(2),
            enc_norm,
            layers,
            heads: cfg.num_attention_heads,
        })
    }

    /// Frames the convolutional front end makes of `samples` input samples (0 if too short).
    pub fn num_frames(cfg: &HubertConfig, samples: usize) -> usize {
        cfg.conv_kernel
            .iter()
            .zip(&cfg.conv_stride)
            .fold(
                samples,
                |len, (&k, &s)| if len < k { 0 } else { (len - k) / s + 1 },
            )
    }

    /// Waveform (1, samples) -> mean over all hidden states (embedding output and every layer),
    /// (1, frames, hidden), as `torch.stack(hidden_states, 1).mean(1)` in the reference.
    pub fn mean_hidden_states(&self, wav: &Tensor) -> Result<Tensor> {
        let mut x = wav.unsqueeze(1)?;
        for l in &self.conv_layers {
            x = l.conv.forward(&x)?;
            x = match &l.norm {
                ConvNorm::None => x,
                ConvNorm::Group(n) => n.forward(&x)?,
                ConvNorm::Layer(n) => n.forward(&x.transpose(1, 2)?)?.transpose(1, 2)?,
            };
            x = x.gelu_erf()?;
        }
        let mut h = x.transpose(1, 2)?.contiguous()?;
        if let Some(n) = &self.proj_norm {
            h = n.forward(&h)?;
        }
        h = self.proj.forward(&h)?;
        let mut pos = self.pos_conv.forward(&h.transpose(1, 2)?.contiguous()?)?;
        if self.pos_trim {
            let t = pos.dim(D::Minus1)?;
            pos = pos.narrow(D::Minus1, 0, t - 1)?;
        }
        h = (h + pos.gelu_erf()?.transpose(1, 2)?)?;
        h = self.enc_norm.forward(&h)?;
        let mut sum = h.clone();
        for layer in &self.layers {
            h = self.layer_forward(layer, &h)?;
            sum = (sum + &h)?;
        }
        sum / (self.layers.len() + 1) as f64
    }

    fn layer_forward(&self, l: &EncoderLayer, h: &Tensor) -> Result<Tensor> {
        let (b, t, dim) = h.dims3()?;
        let hd = dim / self.heads;
        let split = |x: Tensor| -> Result<Tensor> {
            x.reshape((b, t, self.heads, hd))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = split((l.q.forward(h)? * (hd as f64).powf(-0.5))?)?;
        let k = split(l.k.forward(h)?)?;
        let v = split(l.v.forward(h)?)?;
        let att = q.matmul(&k.t()?.contiguous()?)?;
        let att = candle_nn::ops::softmax_last_dim(&att)?;
        let o = att.matmul(&v)?.transpose(1, 2)?.reshape((b, t, dim))?;
        let h = (h + l.out.forward(&o)?)?;
        let h = l.attn_norm.forward(&h)?;
        let ff = l.ff_out.forward(&l.ff_in.forward(&h)?.gelu_erf()?)?;
        l.final_norm.forward(&(h + ff)?)
    }
}
