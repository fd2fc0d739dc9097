//! Streaming decode: frames go in one at a time, audio comes out a window of frames at a time.
//!
//! The DAC decoder is not causal, so the samples of frame `f` depend on a few frames either
//! side. The decoder's exact reach is computed from the config ([`super::AudioTokenizer::
//! decoder_context_frames`]); a window of `chunk` new frames is decoded together with that many
//! frames of left context and right look-ahead, and only the samples of the new frames are kept.
//! Those samples equal a whole-sequence decode up to float rounding: every value they depend
//! on lies inside the window at every layer. The last window (in `finish`) runs to the end of
//! the sequence, where the whole decode zero-pads just as the window does.

use super::{AudioTokenizer, CodecError};

/// Frames emitted per window by [`AudioTokenizer::stream`] after the first: 8 frames = 0.32 s.
pub const DEFAULT_STREAM_CHUNK_FRAMES: usize = 8;
/// Frames in the first window of [`AudioTokenizer::stream`], kept small so the first audio
/// leaves after `2 + right context` frames (12 for the published decoder, 0.48 s of audio).
pub const DEFAULT_FIRST_CHUNK_FRAMES: usize = 2;

/// See the module docs. Created by [`AudioTokenizer::stream`].
#[derive(Debug)]
pub struct StreamDecoder<'a> {
    tok: &'a AudioTokenizer,
    first_chunk: usize,
    chunk: usize,
    /// Frames kept for context, `[frame][codebook]`; `pending[0]` is frame number `base`.
    pending: Vec<Vec<u32>>,
    base: usize,
    /// Frames pushed so far, and frames whose audio has been returned.
    pushed: usize,
    emitted: usize,
}

impl<'a> StreamDecoder<'a> {
    pub(super) fn new(tok: &'a AudioTokenizer, first_chunk: usize, chunk: usize) -> Self {
        Self {
            tok,
            first_chunk: first_chunk.max(1),
            chunk: chunk.max(1),
            pending: Vec::new(),
            base: 0,
            pushed: 0,
            emitted: 0,
        }
    }

    /// Frames that must be pushed before the first audio comes out
    /// (`first chunk + right context`).
    pub fn frames_before_first_audio(&self) -> usize {
        self.first_chunk + self.tok.context.1
    }

    /// Adds one frame (one code per codebook); returns the samples ready now (maybe none).
    pub fn push(&mut self, frame: &[u32]) -> Result<Vec<f32>, CodecError> {
        let n_q = self.tok.num_codebooks();
        if frame.len() != n_q {
            return Err(CodecError::CodebookCount {
                expected: n_q,
                got: frame.len(),
            });
        }
        for (codebook, &code) in frame.iter().enumerate() {
            self.tok.check_row(codebook, &[code], self.pushed)?;
        }
        self.pending.push(frame.to_vec());
        self.pushed += 1;
        let right = self.tok.context.1;
        let chunk = if self.emitted == 0 {
            self.first_chunk
        } else {
            self.chunk
        };
        if self.pushed >= self.emitted + chunk + right {
            let end = self.emitted + chunk;
            return self.emit(end, end + right);
        }
        Ok(Vec::new())
    }

    /// Decodes whatever has not been returned yet.
    pub fn finish(mut self) -> Result<Vec<f32>, CodecError> {
        if self.emitted == self.pushed {
            return Ok(Vec::new());
        }
        let end = self.pushed;
        self.emit(end, end)
    }

    /// Returns the samples of frames `emitted..end`, decoding frames up to `window_end`.
    fn emit(&mut self, end: usize, window_end: usize) -> Result<Vec<f32>, CodecError> {
        let start = self
            .emitted
            .saturating_sub(self.tok.context.0)
            .max(self.base);
        let frames = &self.pending[start - self.base..window_end - self.base];
        let n = frames.len();
        let rows: Vec<Vec<u32>> = (0..self.tok.num_codebooks())
            .map(|q| frames.iter().map(|f| f[q]).collect())
            .collect();
        let audio = self
            .tok
            .decode_checked(rows.iter().map(|r| r.as_slice()), n)?;
        let hop = self.tok.samples_per_frame();
        let out = audio[(self.emitted - start) * hop..(end - start) * hop].to_vec();
        self.emitted = end;
        // Keep only the left context the next window needs.
        let keep_from = self.emitted.saturating_sub(self.tok.context.0);
        if keep_from > self.base {
            self.pending.drain(..keep_from - self.base);
            self.base = keep_from;
        }
        Ok(out)
    }
}
