//! The convolutional encoder applied to the HuBERT features before they join the acoustic
//! latent (`semantic_module.Encoder`): a conv, then blocks of ELU residual units and a conv.

use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

use super::config::SemanticEncoderConfig;
use super::layers::{Conv1d, ConvSpec};

#[derive(Debug, Clone)]
struct ResidualUnit {
    conv1: Conv1d,
    conv2: Conv1d,
}

#[derive(Debug, Clone)]
struct Block {
    res: Vec<ResidualUnit>,
    conv: Conv1d,
}

/// Semantic features (1, dim, frames) -> (1, dim', frames / prod(strides)).
#[derive(Debug, Clone)]
pub(crate) struct SemanticEncoder {
    conv: Conv1d,
    blocks: Vec<Block>,
}

fn conv(
    in_ch: usize,
    out_ch: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    bias: bool,
) -> ConvSpec {
    ConvSpec {
        stride,
        ..ConvSpec::same(in_ch, out_ch, kernel, dilation, bias)
    }
}

impl SemanticEncoder {
    pub fn load(vb: VarBuilder, cfg: &SemanticEncoderConfig, dim: usize) -> Result<Self> {
        let first = Conv1d::load(
            vb.pp("conv").pp("conv"),
            conv(dim, dim, cfg.kernel_size, 1, 1, false),
        )?;
        let mut blocks = Vec::new();
        let mut in_ch = dim;
        for (i, (&ratio, &stride)) in cfg.channel_ratios.iter().zip(&cfg.strides).enumerate() {
            let out_ch = (dim as f64 * ratio) as usize;
            let vbb = vb.pp("conv_blocks").pp(i);
            let res = cfg
                .block_dilations
                .iter()
                .enumerate()
                .map(|(j, &d)| {
                    let vbr = vbb.pp("res_units").pp(j);
                    Ok(ResidualUnit {
                        conv1: Conv1d::load(
                            vbr.pp("conv1").pp("conv"),
                            conv(in_ch, in_ch, cfg.unit_kernel_size, 1, d, false),
                        )?,
                        conv2: Conv1d::load(vbr.pp("conv2"), conv(in_ch, in_ch, 1, 1, 1, false))?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let kernel = if stride == 1 { 3 } else { 2 * stride };
            let conv = Conv1d::load(
                vbb.pp("conv").pp("conv"),
                conv(in_ch, out_ch, kernel, stride, 1, true),
            )?;
            blocks.push(Block { res, conv });
            in_ch = out_ch;
        }
        Ok(Self {
            conv: first,
            blocks,
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut x = self.conv.forward(x)?;
        for b in &self.blocks {
            for r in &b.res {
                let y = r.conv1.forward(&x.elu(1.0)?)?;
                let y = r.conv2.forward(&y.elu(1.0)?)?;
                x = (x + y)?;
            }
            x = b.conv.forward(&x)?;
        }
        Ok(x)
    }
}
