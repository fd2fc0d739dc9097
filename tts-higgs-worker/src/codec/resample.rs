//! Band-limited resampling, the two kinds the reference uses.
//!
//! - [`resample`]: a port of `torchaudio.functional.resample` with its defaults
//!   (`sinc_interp_hann`, `lowpass_filter_width = 6`, `rolloff = 0.99`), which the reference
//!   uses to take 24 kHz audio to HuBERT's 16 kHz. The kernel is computed in f32 with the same
//!   operations as torchaudio (it builds it in the waveform's dtype).
//! - [`resample_hq`]: for reference clips at other rates, which the reference brings to 24 kHz
//!   with `librosa.resample` (soxr, "HQ"). soxr's multi-stage filters are not ported; this is a
//!   single Kaiser-windowed sinc fitted to soxr HQ's measured response (-6 dB at 0.9568 of the
//!   lower Nyquist, transition ~0.92..1.0, > 100 dB stop band), zero-padded at the ends like
//!   soxr. Against soxr it agrees to ~1e-6 on content below ~0.9 of the lower Nyquist and to
//!   ~1e-4 on full-band white noise; the first/last few samples of a clip that starts or ends
//!   abruptly differ more (~3e-4), as soxr treats the edges slightly differently.

const LOWPASS_FILTER_WIDTH: f32 = 6.0;
const ROLLOFF: f32 = 0.99;

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Polyphase windowed-sinc kernel: `new` phases of `2 * width + orig` taps, and `width`.
fn sinc_kernel(orig: u32, new: u32) -> (Vec<Vec<f32>>, usize) {
    let base = orig.min(new) as f32 * ROLLOFF;
    let width = (LOWPASS_FILTER_WIDTH * orig as f32 / base).ceil() as usize;
    let taps = 2 * width + orig as usize;
    let kernels = (0..new)
        .map(|j| {
            let phase = -(j as f32) / new as f32;
            (0..taps)
                .map(|k| {
                    let idx = (k as f32 - width as f32) / orig as f32;
                    let t =
                        ((phase + idx) * base).clamp(-LOWPASS_FILTER_WIDTH, LOWPASS_FILTER_WIDTH);
                    let window = (t * std::f32::consts::PI / LOWPASS_FILTER_WIDTH / 2.0)
                        .cos()
                        .powi(2);
                    let t = t * std::f32::consts::PI;
                    let sinc = if t == 0.0 { 1.0 } else { t.sin() / t };
                    sinc * (window * (base / orig as f32))
                })
                .collect()
        })
        .collect();
    (kernels, width)
}

/// Resamples mono `x` from `orig` Hz to `new` Hz; output length `ceil(len * new / orig)`.
pub fn resample(x: &[f32], orig: u32, new: u32) -> Vec<f32> {
    if orig == new || x.is_empty() || orig == 0 || new == 0 {
        return x.to_vec();
    }
    let g = gcd(orig, new);
    let (o, n) = (orig / g, new / g);
    let (kernels, width) = sinc_kernel(o, n);
    let (o, n) = (o as usize, n as usize);
    let len = x.len();
    let mut padded = vec![0f32; width + len + width + o];
    padded[width..width + len].copy_from_slice(x);
    let target = (n * len).div_ceil(o);
    let blocks = len / o + 1;
    let mut out = Vec::with_capacity(blocks * n);
    for i in 0..blocks {
        let window = &padded[i * o..i * o + kernels[0].len()];
        for kernel in &kernels {
            let acc: f64 = kernel
                .iter()
                .zip(window)
                .map(|(&k, &v)| k as f64 * v as f64)
                .sum();
            out.push(acc as f32);
        }
    }
    out.truncate(target);
    out
}

/// -6 dB point of the low-pass, as a fraction of the lower of the two Nyquist rates.
const HQ_CUTOFF: f64 = 0.9568;
/// Zero crossings of the sinc on each side.
const HQ_ZEROS: f64 = 88.0;
/// Kaiser window shape.
const HQ_BETA: f64 = 11.8;
/// Above this many precomputed taps (phases x taps) the weights are computed per sample.
const MAX_CACHED_TAPS: usize = 1 << 22;

/// Modified Bessel function of the first kind, order 0 (power series).
fn bessel_i0(x: f64) -> f64 {
    let (mut sum, mut term, q) = (1.0, 1.0, x * x / 4.0);
    for k in 1..200 {
        term *= q / (k * k) as f64;
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

/// Resamples mono `x` from `orig` Hz to `new` Hz with a long Kaiser-windowed sinc that
/// approximates librosa's default (soxr HQ); see the module docs. Output length is what
/// `librosa.resample` fixes it to, `ceil(len * (new / orig))` in f64 (one more than the exact
/// ratio gives when the float product lands just above an integer; that sample is zero there).
pub fn resample_hq(x: &[f32], orig: u32, new: u32) -> Vec<f32> {
    if orig == new || x.is_empty() || orig == 0 || new == 0 {
        return x.to_vec();
    }
    let g = gcd(orig, new);
    let (o, n) = ((orig / g) as usize, (new / g) as usize);
    // Sinc argument per input sample, and the window's half-width in input samples.
    let scale = o.min(n) as f64 * HQ_CUTOFF / o as f64;
    let width = (HQ_ZEROS / scale).ceil() as usize;
    let taps = 2 * width + o;
    let i0_beta = bessel_i0(HQ_BETA);
    // Weight of tap k (input sample `block * o + k - width`) for output phase j.
    let weight = |j: usize, k: usize| -> f32 {
        let u = ((k as f64 - width as f64) / o as f64 - j as f64 / n as f64) * o as f64 * scale;
        if u.abs() >= HQ_ZEROS {
            return 0.0;
        }
        let r = u / HQ_ZEROS;
        let window = bessel_i0(HQ_BETA * (1.0 - r * r).sqrt()) / i0_beta;
        let sinc = if u == 0.0 {
            1.0
        } else {
            (std::f64::consts::PI * u).sin() / (std::f64::consts::PI * u)
        };
        (sinc * window * scale) as f32
    };
    let cached: Option<Vec<Vec<f32>>> = (n * taps <= MAX_CACHED_TAPS).then(|| {
        (0..n)
            .map(|j| (0..taps).map(|k| weight(j, k)).collect())
            .collect()
    });
    let len = x.len();
    let mut padded = vec![0f32; width + len + width + o];
    padded[width..width + len].copy_from_slice(x);
    let target = (n * len).div_ceil(o);
    let librosa_len = (len as f64 * (new as f64 / orig as f64)).ceil() as usize;
    let mut out = Vec::with_capacity(librosa_len.max(target));
    'blocks: for block in 0..len / o + 1 {
        let window = &padded[block * o..block * o + taps];
        for j in 0..n {
            if out.len() == target {
                break 'blocks;
            }
            let acc: f64 = match &cached {
                Some(k) => k[j]
                    .iter()
                    .zip(window)
                    .map(|(&w, &v)| w as f64 * v as f64)
                    .sum(),
                None => (0..taps)
                    .map(|k| weight(j, k) as f64 * window[k] as f64)
                    .sum(),
            };
            out.push(acc as f32);
        }
    }
    out.resize(librosa_len, 0.0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_follow_torchaudio() {
        assert_eq!(resample(&vec![0.0; 24_000], 24_000, 16_000).len(), 16_000);
        assert_eq!(resample(&vec![0.0; 1001], 24_000, 16_000).len(), 668);
        assert_eq!(resample(&vec![0.0; 441], 44_100, 24_000).len(), 240);
    }

    #[test]
    fn hq_keeps_a_sine_and_the_length() {
        for (orig, new, f) in [
            (16_000, 24_000, 3000.0f64),
            (44_100, 24_000, 9000.0),
            (48_000, 24_000, 440.0),
        ] {
            let x: Vec<f32> = (0..orig as usize / 2)
                .map(|i| (2.0 * std::f64::consts::PI * f * i as f64 / orig as f64).sin() as f32)
                .collect();
            let y = resample_hq(&x, orig, new);
            assert_eq!(
                y.len(),
                (x.len() as f64 * (new as f64 / orig as f64)).ceil() as usize
            );
            for (i, &v) in y.iter().enumerate().skip(400).take(y.len() - 800) {
                let ideal = (2.0 * std::f64::consts::PI * f * i as f64 / new as f64).sin() as f32;
                assert!(
                    (v - ideal).abs() < 1e-4,
                    "{orig}->{new} sample {i}: {v} vs {ideal}"
                );
            }
        }
    }

    #[test]
    fn hq_removes_what_the_new_rate_cannot_hold() {
        // 13 kHz cannot exist at 24 kHz (Nyquist 12 kHz): it must be filtered out, not folded
        // down to 11 kHz.
        let x: Vec<f32> = (0..24_000)
            .map(|i| (2.0 * std::f64::consts::PI * 13_000.0 * i as f64 / 48_000.0).sin() as f32)
            .collect();
        let y = resample_hq(&x, 48_000, 24_000);
        let peak = y[400..y.len() - 400]
            .iter()
            .fold(0f32, |m, v| m.max(v.abs()));
        assert!(peak < 1e-4, "aliased 13 kHz leaks with peak {peak}");
    }

    #[test]
    fn a_low_sine_survives_downsampling() {
        let f = 440.0f32;
        let x: Vec<f32> = (0..24_000)
            .map(|i| (2.0 * std::f32::consts::PI * f * i as f32 / 24_000.0).sin())
            .collect();
        let y = resample(&x, 24_000, 16_000);
        // Away from the zero-padded edges the resampled sine matches the ideal one closely.
        for (i, &v) in y.iter().enumerate().take(15_000).skip(1000) {
            let ideal = (2.0 * std::f32::consts::PI * f * i as f32 / 16_000.0).sin();
            assert!((v - ideal).abs() < 2e-3, "sample {i}: {v} vs {ideal}");
        }
    }
}
