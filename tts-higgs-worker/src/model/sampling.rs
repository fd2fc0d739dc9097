//! Per-step audio token choice, as the reference's `_sample_audio_tokens` does it: temperature →
//! top-k → top-p (Hugging Face's warpers, in that order), a draw per codebook, repetition-aware
//! sampling (RAS), then the delay pattern's BOS forcing and the EOS countdown.

use super::ModelError;

/// How to pick audio tokens. `temperature == 0` means greedy (argmax of the raw logits).
#[derive(Debug, Clone, PartialEq)]
pub struct Sampling {
    pub temperature: f32,
    /// Keep the `top_k` largest logits per codebook; 0 disables it.
    pub top_k: usize,
    /// Keep the smallest set of tokens whose probability reaches `top_p`; 1.0 disables it.
    pub top_p: f32,
    pub seed: u64,
    /// RAS window in frames (the reference's `ras_win_len`); 0 disables RAS.
    pub ras_window: usize,
    /// A token seen this many times in the window is redrawn from the raw distribution
    /// (the reference's `ras_win_max_num_repeat`).
    pub ras_max_repeat: usize,
    /// Upper bound on generated frames (after undoing the delay pattern).
    pub max_frames: usize,
}

impl Default for Sampling {
    /// yapit's settings (temperature 0.3, top-k 50, top-p 0.95) and the reference serve
    /// engine's RAS defaults (window 7, 2 repeats).
    fn default() -> Self {
        Self {
            temperature: 0.3,
            top_k: 50,
            top_p: 0.95,
            seed: 0,
            ras_window: 7,
            ras_max_repeat: 2,
            // 25 frames per second: two minutes of audio.
            max_frames: 3000,
        }
    }
}

impl Sampling {
    pub fn validate(&self) -> Result<(), ModelError> {
        if !self.temperature.is_finite() || self.temperature < 0.0 {
            return Err(ModelError::Sampling(format!(
                "temperature must be finite and >= 0, got {}",
                self.temperature
            )));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(ModelError::Sampling(format!(
                "top_p must be in (0, 1], got {}",
                self.top_p
            )));
        }
        if self.ras_window > 0 && self.ras_max_repeat == 0 {
            return Err(ModelError::Sampling(
                "ras_max_repeat must be at least 1 when RAS is on".to_owned(),
            ));
        }
        if self.max_frames == 0 {
            return Err(ModelError::Sampling(
                "max_frames must be at least 1".to_owned(),
            ));
        }
        Ok(())
    }

    pub fn is_greedy(&self) -> bool {
        self.temperature == 0.0
    }
}

/// SplitMix64: a tiny seeded generator whose stream never changes with a dependency's version,
/// so a seed gives the same audio across builds.
#[derive(Debug, Clone)]
pub struct SeededRng(u64);

impl SeededRng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// Hugging Face's `TemperatureLogitsWarper` → `TopKLogitsWarper` → `TopPLogitsWarper` on one
/// row of logits; removed entries become `-inf`.
pub fn warp_logits(logits: &[f32], temperature: f32, top_k: usize, top_p: f32) -> Vec<f32> {
    let mut scores: Vec<f32> = logits.iter().map(|&l| l / temperature).collect();
    if top_k > 0 && top_k < scores.len() {
        let mut sorted = scores.clone();
        sorted.sort_by(|a, b| b.total_cmp(a));
        let kth = sorted[top_k - 1];
        // Ties with the k-th value are kept, as `scores < topk[..., -1]` does.
        for s in scores.iter_mut() {
            if *s < kth {
                *s = f32::NEG_INFINITY;
            }
        }
    }
    if top_p < 1.0 {
        let mut order: Vec<usize> = (0..scores.len()).collect();
        // Ascending, like `torch.sort(scores, descending=False)`.
        order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
        let probs = softmax(&order.iter().map(|&i| scores[i]).collect::<Vec<_>>());
        let mut cumulative = 0.0f32;
        let last = order.len() - 1;
        for (rank, &i) in order.iter().enumerate() {
            cumulative += probs[rank];
            // `min_tokens_to_keep = 1`: the most likely token always stays.
            if cumulative <= 1.0 - top_p && rank != last {
                scores[i] = f32::NEG_INFINITY;
            }
        }
    }
    scores
}

/// Softmax in f32 (as torch does it for f32 logits); `-inf` entries get probability 0.
pub fn softmax(scores: &[f32]) -> Vec<f32> {
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !max.is_finite() {
        return vec![0.0; scores.len()];
    }
    let exps: Vec<f32> = scores.iter().map(|&s| (s - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.into_iter().map(|e| e / sum).collect()
}

/// One draw from unnormalised non-negative weights.
pub fn draw(weights: &[f32], rng: &mut SeededRng) -> usize {
    let total: f64 = weights.iter().map(|&w| w as f64).sum();
    let mut target = rng.next_f64() * total;
    let mut last_positive = 0;
    for (i, &w) in weights.iter().enumerate() {
        if w > 0.0 {
            last_positive = i;
            target -= w as f64;
            if target < 0.0 {
                return i;
            }
        }
    }
    last_positive
}

pub fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}

/// Picks one token per codebook from `logits` (`[codebook][vocab]`), with RAS against the
/// `history` of delayed columns already in the audio stream (oldest first).
pub fn choose_tokens(
    logits: &[Vec<f32>],
    history: &[Vec<u32>],
    sampling: &Sampling,
    rng: &mut SeededRng,
) -> Vec<u32> {
    let mut tokens: Vec<u32> = logits
        .iter()
        .map(|row| {
            if sampling.is_greedy() {
                argmax(row) as u32
            } else {
                let scores = warp_logits(row, sampling.temperature, sampling.top_k, sampling.top_p);
                draw(&softmax(&scores), rng) as u32
            }
        })
        .collect();
    if sampling.ras_window > 0 {
        let window = &history[history.len().saturating_sub(sampling.ras_window)..];
        for (k, token) in tokens.iter_mut().enumerate() {
            let repeats = window.iter().filter(|col| col[k] == *token).count();
            if repeats >= sampling.ras_max_repeat {
                // The reference redraws from the raw logits: no temperature, top-k or top-p.
                *token = draw(&softmax(&logits[k]), rng) as u32;
            }
        }
    }
    tokens
}

/// The delay pattern's bookkeeping across steps: BOS forcing while the later codebooks have not
/// started, and the countdown that ends the stream once a codebook emits EOS.
#[derive(Debug, Clone)]
pub struct DelayState {
    num_codebooks: usize,
    bos: u32,
    eos: u32,
    num_delay: usize,
    remaining_delays: Option<isize>,
}

impl DelayState {
    pub fn new(num_codebooks: usize, bos: u32, eos: u32) -> Self {
        Self {
            num_codebooks,
            bos,
            eos,
            num_delay: 0,
            remaining_delays: None,
        }
    }

    /// Rewrites the freshly chosen `tokens` in place, exactly as the reference does, and says
    /// whether this column ends the audio stream.
    pub fn apply(&mut self, tokens: &mut [u32]) -> bool {
        let n = self.num_codebooks;
        if self.num_delay + 1 < n {
            tokens[self.num_delay + 1..].fill(self.bos);
            self.num_delay += 1;
        }
        match self.remaining_delays {
            Some(remaining) => {
                let upto = (n as isize - remaining).clamp(0, n as isize) as usize;
                tokens[..upto].fill(self.eos);
                self.remaining_delays = Some(remaining - 1);
            }
            None => {
                // The reference takes the *first* EOS (`nonzero()[0][-1]`), despite naming it last.
                if let Some(first) = tokens.iter().position(|&t| t == self.eos) {
                    tokens[..first].fill(self.eos);
                    self.remaining_delays = Some(n as isize - first as isize - 1);
                }
            }
        }
        if matches!(self.remaining_delays, Some(r) if r <= 0) {
            self.num_delay = 0;
            self.remaining_delays = None;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bos_forcing_then_countdown() {
        let (n, bos, eos) = (4, 100, 101);
        let mut state = DelayState::new(n, bos, eos);
        let mut t = vec![1, 2, 3, 4];
        assert!(!state.apply(&mut t));
        assert_eq!(t, vec![1, bos, bos, bos]);
        let mut t = vec![1, 2, 3, 4];
        assert!(!state.apply(&mut t));
        assert_eq!(t, vec![1, 2, bos, bos]);
        let mut t = vec![1, 2, 3, 4];
        assert!(!state.apply(&mut t));
        assert_eq!(t, vec![1, 2, 3, bos]);
        // Codebook 1 says EOS: codebook 0 is forced to EOS, two more columns to go.
        let mut t = vec![5, eos, 7, 8];
        assert!(!state.apply(&mut t));
        assert_eq!(t, vec![eos, eos, 7, 8]);
        let mut t = vec![5, 6, 7, 8];
        assert!(!state.apply(&mut t));
        assert_eq!(t, vec![eos, eos, 7, 8]);
        let mut t = vec![5, 6, 7, 8];
        assert!(state.apply(&mut t));
        assert_eq!(t, vec![eos, eos, eos, 8]);
    }

    #[test]
    fn eos_in_last_codebook_ends_at_once() {
        let mut state = DelayState::new(3, 100, 101);
        for _ in 0..2 {
            state.apply(&mut [1, 2, 3]);
        }
        let mut t = vec![1, 2, 101];
        assert!(state.apply(&mut t));
        assert_eq!(t, vec![101, 101, 101]);
    }

    #[test]
    fn first_eos_wins() {
        let mut state = DelayState::new(4, 100, 101);
        for _ in 0..3 {
            state.apply(&mut [1, 2, 3, 4]);
        }
        let mut t = vec![1, 101, 3, 101];
        assert!(!state.apply(&mut t));
        assert_eq!(t, vec![101, 101, 3, 101]);
    }

    #[test]
    fn top_k_keeps_ties_and_top_p_keeps_one() {
        let w = warp_logits(&[1.0, 3.0, 3.0, 0.0], 1.0, 1, 1.0);
        assert_eq!(w[1], 3.0);
        assert_eq!(w[2], 3.0);
        assert!(w[0].is_infinite() && w[3].is_infinite());
        let w = warp_logits(&[0.0, 10.0, 0.0], 1.0, 0, 0.01);
        assert_eq!(w.iter().filter(|v| v.is_finite()).count(), 1);
        assert!(w[1].is_finite());
    }

    #[test]
    fn rng_is_uniformish() {
        let mut rng = SeededRng::new(3);
        let mean: f64 = (0..10_000).map(|_| rng.next_f64()).sum::<f64>() / 10_000.0;
        assert!((mean - 0.5).abs() < 0.02, "{mean}");
    }
}
