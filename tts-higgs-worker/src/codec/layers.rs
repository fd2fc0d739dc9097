//! Small convolution building blocks shared by the DAC, semantic and HuBERT parts.
//! Weight norm is folded into plain weights by the converter, so these are plain convolutions.

use candle_core::{D, Result, Tensor};
use candle_nn::VarBuilder;

/// `nn.Conv1d` with explicit padding (zeros on both sides), stride, dilation and groups.
#[derive(Debug, Clone)]
pub(crate) struct Conv1d {
    weight: Tensor,
    bias: Option<Tensor>,
    padding: usize,
    stride: usize,
    dilation: usize,
    groups: usize,
}

/// Shape of a 1-D convolution.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConvSpec {
    pub in_ch: usize,
    pub out_ch: usize,
    pub kernel: usize,
    pub padding: usize,
    pub stride: usize,
    pub dilation: usize,
    pub groups: usize,
    pub bias: bool,
}

impl ConvSpec {
    /// Stride 1, "same" padding for an odd kernel.
    pub fn same(in_ch: usize, out_ch: usize, kernel: usize, dilation: usize, bias: bool) -> Self {
        Self {
            in_ch,
            out_ch,
            kernel,
            padding: (kernel - 1) / 2 * dilation,
            stride: 1,
            dilation,
            groups: 1,
            bias,
        }
    }
}

impl Conv1d {
    pub fn load(vb: VarBuilder, s: ConvSpec) -> Result<Self> {
        let weight = vb.get((s.out_ch, s.in_ch / s.groups, s.kernel), "weight")?;
        let bias = if s.bias {
            Some(vb.get(s.out_ch, "bias")?.reshape((1, s.out_ch, 1))?)
        } else {
            None
        };
        Ok(Self {
            weight,
            bias,
            padding: s.padding,
            stride: s.stride,
            dilation: s.dilation,
            groups: s.groups,
        })
    }

    /// `x`: (batch, channels, time). Input shorter than the kernel's reach is an error (candle
    /// would underflow computing the output length).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (_, _, k) = self.weight.dims3()?;
        let len = x.dim(D::Minus1)?;
        if conv_out_len(len, k, self.padding, self.stride, self.dilation) == 0 {
            candle_core::bail!("conv1d input of length {len} is shorter than its kernel ({k})");
        }
        let y = x.conv1d(
            &self.weight,
            self.padding,
            self.stride,
            self.dilation,
            self.groups,
        )?;
        match &self.bias {
            Some(b) => y.broadcast_add(b),
            None => Ok(y),
        }
    }
}

/// Output length of a 1-D convolution, 0 when the padded input is shorter than the kernel.
pub(crate) fn conv_out_len(
    len: usize,
    kernel: usize,
    padding: usize,
    stride: usize,
    dilation: usize,
) -> usize {
    let reach = dilation * (kernel - 1) + 1;
    if len + 2 * padding < reach {
        0
    } else {
        (len + 2 * padding - reach) / stride + 1
    }
}

/// `nn.ConvTranspose1d` (groups 1, dilation 1) with padding and output padding.
///
/// Runs the transposed convolution unpadded and crops, which is the same sum and lets candle's
/// fast CPU path handle it: output `n` of the padded form is output `n + padding` of the full one,
/// and `output_padding` only lengthens the crop (`output_padding <= padding` here).
#[derive(Debug, Clone)]
pub(crate) struct ConvTranspose1d {
    weight: Tensor,
    bias: Tensor,
    stride: usize,
    padding: usize,
    output_padding: usize,
}

impl ConvTranspose1d {
    pub fn load(
        vb: VarBuilder,
        in_ch: usize,
        out_ch: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        output_padding: usize,
    ) -> Result<Self> {
        if output_padding > padding {
            candle_core::bail!(
                "output_padding {output_padding} > padding {padding} is not supported"
            );
        }
        Ok(Self {
            weight: vb.get((in_ch, out_ch, kernel), "weight")?,
            bias: vb.get(out_ch, "bias")?.reshape((1, out_ch, 1))?,
            stride,
            padding,
            output_padding,
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (_, _, l_in) = x.dims3()?;
        if l_in == 0 {
            candle_core::bail!("transposed conv1d on an empty input");
        }
        let (_, _, k) = self.weight.dims3()?;
        let full = x.conv_transpose1d(&self.weight, 0, 0, self.stride, 1, 1)?;
        let out_len =
            ((l_in - 1) * self.stride + k + self.output_padding).saturating_sub(2 * self.padding);
        full.narrow(D::Minus1, self.padding, out_len)?
            .broadcast_add(&self.bias)
    }
}

/// DAC's Snake activation: `x + sin(alpha x)^2 / (alpha + 1e-9)`, one alpha per channel.
#[derive(Debug, Clone)]
pub(crate) struct Snake {
    alpha: Tensor,
    inv_alpha: Tensor,
}

impl Snake {
    pub fn load(vb: VarBuilder, channels: usize) -> Result<Self> {
        let alpha = vb.get((1, channels, 1), "alpha")?;
        let inv_alpha = (alpha.clone() + 1e-9)?.recip()?;
        Ok(Self { alpha, inv_alpha })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let s = x.broadcast_mul(&self.alpha)?.sin()?.sqr()?;
        x + s.broadcast_mul(&self.inv_alpha)?
    }
}

/// `nn.Linear` applied on the last dimension of a (rows, in) or (batch, rows, in) tensor.
#[derive(Debug, Clone)]
pub(crate) struct Linear {
    weight_t: Tensor,
    bias: Tensor,
}

impl Linear {
    pub fn load(vb: VarBuilder, in_dim: usize, out_dim: usize) -> Result<Self> {
        Ok(Self {
            weight_t: vb.get((out_dim, in_dim), "weight")?.t()?.contiguous()?,
            bias: vb.get(out_dim, "bias")?,
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = match x.dims().len() {
            3 => x.broadcast_matmul(&self.weight_t)?,
            _ => x.matmul(&self.weight_t)?,
        };
        y.broadcast_add(&self.bias)
    }
}
