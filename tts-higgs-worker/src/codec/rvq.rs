//! Residual vector quantizer (`quantization/core_vq_lsx_version.py`): per layer, project the
//! residual into the codebook space, take the nearest entry (Euclidean), project it back, and
//! subtract it from the residual. Decoding sums the projected-back entries.

use candle_core::{D, Result, Tensor};
use candle_nn::VarBuilder;

use super::layers::Linear;

#[derive(Debug, Clone)]
struct Layer {
    /// (bins, codebook_dim)
    embed: Tensor,
    /// (codebook_dim, bins) and per-entry squared norms (1, bins), for the distance.
    embed_t: Tensor,
    embed_sq: Tensor,
    project_in: Option<Linear>,
    project_out: Option<Linear>,
}

#[derive(Debug, Clone)]
pub(crate) struct Rvq {
    layers: Vec<Layer>,
}

impl Rvq {
    pub fn load(
        vb: VarBuilder,
        n_q: usize,
        bins: usize,
        dim: usize,
        codebook_dim: Option<usize>,
    ) -> Result<Self> {
        let cdim = codebook_dim.unwrap_or(dim);
        let layers = (0..n_q)
            .map(|i| {
                let vbl = vb.pp("vq").pp("layers").pp(i);
                let embed = vbl.pp("_codebook").get((bins, cdim), "embed")?;
                let (project_in, project_out) = if cdim != dim {
                    (
                        Some(Linear::load(vbl.pp("project_in"), dim, cdim)?),
                        Some(Linear::load(vbl.pp("project_out"), cdim, dim)?),
                    )
                } else {
                    (None, None)
                };
                Ok(Layer {
                    embed_t: embed.t()?.contiguous()?,
                    embed_sq: embed.sqr()?.sum_keepdim(1)?.t()?,
                    embed,
                    project_in,
                    project_out,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { layers })
    }

    fn dequantize(layer: &Layer, ids: &Tensor) -> Result<Tensor> {
        let q = layer.embed.index_select(ids, 0)?;
        match &layer.project_out {
            Some(p) => p.forward(&q),
            None => Ok(q),
        }
    }

    /// `x`: (frames, dim) -> codes, one row of `frames` indices per codebook.
    pub fn encode(&self, x: &Tensor) -> Result<Vec<Vec<u32>>> {
        let mut residual = x.clone();
        let mut codes = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            let xin = match &layer.project_in {
                Some(p) => p.forward(&residual)?,
                None => residual.clone(),
            };
            // Same expression as the reference: -(|x|^2 - 2 x.e + |e|^2), then the max.
            let dist = xin
                .sqr()?
                .sum_keepdim(1)?
                .broadcast_sub(&(xin.matmul(&layer.embed_t)? * 2.0)?)?
                .broadcast_add(&layer.embed_sq)?
                .neg()?;
            let ids = dist.argmax(D::Minus1)?;
            residual = (residual - Self::dequantize(layer, &ids)?)?;
            codes.push(ids.to_vec1::<u32>()?);
        }
        Ok(codes)
    }

    /// Codes (already checked against the codebook count and size), each (frames,) u32 ->
    /// the summed quantized vectors, (frames, dim).
    pub fn decode(&self, codes: &[Tensor]) -> Result<Tensor> {
        let mut sum: Option<Tensor> = None;
        for (layer, ids) in self.layers.iter().zip(codes) {
            let q = Self::dequantize(layer, ids)?;
            sum = Some(match sum {
                Some(s) => (s + q)?,
                None => q,
            });
        }
        sum.ok_or_else(|| candle_core::Error::Msg("no codebooks to decode".into()))
    }
}
