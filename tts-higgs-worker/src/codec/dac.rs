//! The DAC acoustic encoder and decoder (`descriptaudiocodec/dac/model/dac.py`), sized from
//! the config: `encoder_dim` doubling per stride, `decoder_dim` halving per stride.

use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

use super::config::CodecConfig;
use super::layers::{Conv1d, ConvSpec, ConvTranspose1d, Snake, conv_out_len};

/// Dilations of the three residual units in every DAC block.
const DILATIONS: [usize; 3] = [1, 3, 9];
/// Kernel of the residual units' dilated convolution and of the first/last convolutions.
const KERNEL: usize = 7;

#[derive(Debug, Clone)]
struct ResidualUnit {
    snake1: Snake,
    conv1: Conv1d,
    snake2: Snake,
    conv2: Conv1d,
}

impl ResidualUnit {
    fn load(vb: VarBuilder, dim: usize, dilation: usize) -> Result<Self> {
        let vb = vb.pp("block");
        Ok(Self {
            snake1: Snake::load(vb.pp("0"), dim)?,
            conv1: Conv1d::load(vb.pp("1"), ConvSpec::same(dim, dim, KERNEL, dilation, true))?,
            snake2: Snake::load(vb.pp("2"), dim)?,
            conv2: Conv1d::load(vb.pp("3"), ConvSpec::same(dim, dim, 1, 1, true))?,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.conv1.forward(&self.snake1.forward(x)?)?;
        let y = self.conv2.forward(&self.snake2.forward(&y)?)?;
        // "same" padding keeps the length, so the reference's centre crop of `x` is a no-op.
        x + y
    }
}

fn down_conv(in_ch: usize, out_ch: usize, stride: usize) -> ConvSpec {
    ConvSpec {
        in_ch,
        out_ch,
        kernel: 2 * stride,
        padding: stride.div_ceil(2),
        stride,
        dilation: 1,
        groups: 1,
        bias: true,
    }
}

#[derive(Debug, Clone)]
struct EncoderBlock {
    res: Vec<ResidualUnit>,
    snake: Snake,
    conv: Conv1d,
}

/// Waveform (1, 1, samples) -> latent (1, D, frames).
#[derive(Debug, Clone)]
pub(crate) struct DacEncoder {
    conv_in: Conv1d,
    blocks: Vec<EncoderBlock>,
    snake_out: Snake,
    conv_out: Conv1d,
}

impl DacEncoder {
    pub fn load(vb: VarBuilder, cfg: &CodecConfig) -> Result<Self> {
        let vb = vb.pp("block");
        let mut width = cfg.encoder_dim;
        let conv_in = Conv1d::load(vb.pp("0"), ConvSpec::same(1, width, KERNEL, 1, true))?;
        let mut blocks = Vec::with_capacity(cfg.ratios.len());
        for (i, &stride) in cfg.ratios.iter().enumerate() {
            let vbb = vb.pp(i + 1).pp("block");
            let res = DILATIONS
                .iter()
                .enumerate()
                .map(|(j, &d)| ResidualUnit::load(vbb.pp(j), width, d))
                .collect::<Result<Vec<_>>>()?;
            let snake = Snake::load(vbb.pp("3"), width)?;
            let conv = Conv1d::load(vbb.pp("4"), down_conv(width, width * 2, stride))?;
            blocks.push(EncoderBlock { res, snake, conv });
            width *= 2;
        }
        let n = cfg.ratios.len();
        Ok(Self {
            conv_in,
            blocks,
            snake_out: Snake::load(vb.pp(n + 1), width)?,
            conv_out: Conv1d::load(vb.pp(n + 2), ConvSpec::same(width, cfg.d, 3, 1, true))?,
        })
    }

    /// Latent frames the encoder makes of `samples` samples (0 if too short for a frame).
    pub fn frames_for(cfg: &CodecConfig, samples: usize) -> usize {
        cfg.ratios.iter().fold(samples, |len, &s| {
            let spec = down_conv(1, 1, s);
            conv_out_len(len, spec.kernel, spec.padding, s, 1)
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut x = self.conv_in.forward(x)?;
        for b in &self.blocks {
            for r in &b.res {
                x = r.forward(&x)?;
            }
            x = b.conv.forward(&b.snake.forward(&x)?)?;
        }
        self.conv_out.forward(&self.snake_out.forward(&x)?)
    }
}

#[derive(Debug, Clone)]
struct DecoderBlock {
    snake: Snake,
    up: ConvTranspose1d,
    res: Vec<ResidualUnit>,
}

/// Latent (1, D, frames) -> waveform (1, 1, frames * hop).
#[derive(Debug, Clone)]
pub(crate) struct DacDecoder {
    conv_in: Conv1d,
    blocks: Vec<DecoderBlock>,
    snake_out: Snake,
    conv_out: Conv1d,
}

impl DacDecoder {
    pub fn load(vb: VarBuilder, cfg: &CodecConfig) -> Result<Self> {
        let vb = vb.pp("model");
        let ch = cfg.decoder_dim;
        let conv_in = Conv1d::load(vb.pp("0"), ConvSpec::same(cfg.d, ch, KERNEL, 1, true))?;
        let mut blocks = Vec::with_capacity(cfg.ratios.len());
        let mut out_dim = ch;
        for (i, &stride) in cfg.ratios.iter().enumerate() {
            let in_dim = ch >> i;
            out_dim = ch >> (i + 1);
            let vbb = vb.pp(i + 1).pp("block");
            let snake = Snake::load(vbb.pp("0"), in_dim)?;
            let up = ConvTranspose1d::load(
                vbb.pp("1"),
                in_dim,
                out_dim,
                2 * stride,
                stride,
                stride.div_ceil(2),
                stride % 2,
            )?;
            let res = DILATIONS
                .iter()
                .enumerate()
                .map(|(j, &d)| ResidualUnit::load(vbb.pp(j + 2), out_dim, d))
                .collect::<Result<Vec<_>>>()?;
            blocks.push(DecoderBlock { snake, up, res });
        }
        let n = cfg.ratios.len();
        Ok(Self {
            conv_in,
            blocks,
            snake_out: Snake::load(vb.pp(n + 1), out_dim)?,
            conv_out: Conv1d::load(vb.pp(n + 2), ConvSpec::same(out_dim, 1, KERNEL, 1, true))?,
        })
    }

    pub fn forward(&self, z: &Tensor) -> Result<Tensor> {
        let mut x = self.conv_in.forward(z)?;
        for b in &self.blocks {
            x = b.up.forward(&b.snake.forward(&x)?)?;
            for r in &b.res {
                x = r.forward(&x)?;
            }
        }
        self.conv_out.forward(&self.snake_out.forward(&x)?)
    }
}

/// How many frames of left and right context the decoder needs so that the samples of a run of
/// frames come out exactly as in a decode of the whole sequence.
///
/// Walks the decoder backwards from one output frame, tracking the interval of positions each
/// layer needs, and at every level converts it to whole frames (a window of frames produces the
/// positions `[start * rate, end * rate)` at a level of `rate` positions per frame, and zero-pads
/// outside them). The widest reach over all levels is the context.
pub(crate) fn decoder_context_frames(cfg: &CodecConfig) -> (usize, usize) {
    let hop = cfg.hop_length() as i64;
    // Any frame far from the edges; the result does not depend on which.
    let f: i64 = 4096;
    let (mut a, mut b) = (f * hop, (f + 1) * hop - 1);
    let (mut lo, mut hi) = (f, f);
    let reach = |a: i64, b: i64, rate: i64, lo: &mut i64, hi: &mut i64| {
        *lo = (*lo).min(a.div_euclid(rate));
        *hi = (*hi).max(b.div_euclid(rate));
    };
    let same = |a: i64, b: i64, kernel: i64, dilation: i64| {
        let p = (kernel - 1) / 2 * dilation;
        (a - p, b + p)
    };
    let mut rate = hop;
    reach(a, b, rate, &mut lo, &mut hi);
    (a, b) = same(a, b, KERNEL as i64, 1);
    reach(a, b, rate, &mut lo, &mut hi);
    for &stride in cfg.ratios.iter().rev() {
        for &d in DILATIONS.iter().rev() {
            (a, b) = same(a, b, KERNEL as i64, d as i64);
            reach(a, b, rate, &mut lo, &mut hi);
        }
        let s = stride as i64;
        let (k, p) = (2 * s, (s + 1) / 2);
        // Output n of the transposed conv sums inputs i with n = i*s - p + j, 0 <= j < k.
        a = (a + p - (k - 1)).div_euclid(s) + i64::from((a + p - (k - 1)).rem_euclid(s) != 0);
        b = (b + p).div_euclid(s);
        rate /= s;
        reach(a, b, rate, &mut lo, &mut hi);
    }
    (a, b) = same(a, b, KERNEL as i64, 1);
    reach(a, b, rate, &mut lo, &mut hi);
    ((f - lo) as usize, (hi - f) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_of_the_published_decoder_is_a_few_frames() {
        let (left, right) = decoder_context_frames(&CodecConfig::default());
        // 3 frames from the first conv, one from the first transposed conv, ~5 from the
        // 8x level's residual units, then a little from each finer level.
        assert!((8..=14).contains(&left), "left {left}");
        assert!((8..=14).contains(&right), "right {right}");
    }
}
