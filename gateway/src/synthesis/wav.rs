//! The one audio format the cache holds: canonical 44-byte-header WAV, mono, 16-bit PCM.

/// Bytes before the samples in every WAV this gateway writes.
pub const HEADER_LEN: usize = 44;

/// Wraps little-endian 16-bit mono samples in a WAV header.
pub fn from_pcm(pcm: &[u8], sample_rate: u32) -> Vec<u8> {
    let data_len = pcm.len() as u32;
    let mut wav = Vec::with_capacity(HEADER_LEN + pcm.len());
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_len).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes()); // fmt chunk size
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&sample_rate.to_le_bytes());
    wav.extend_from_slice(&(sample_rate * 2).to_le_bytes()); // byte rate
    wav.extend_from_slice(&2u16.to_le_bytes()); // block align
    wav.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_len.to_le_bytes());
    wav.extend_from_slice(pcm);
    wav
}

/// The sample rate of a WAV written by [`from_pcm`], if it is one.
pub fn sample_rate(wav: &[u8]) -> Option<u32> {
    if wav.len() < HEADER_LEN || &wav[0..4] != b"RIFF" || &wav[8..12] != b"WAVE" {
        return None;
    }
    Some(u32::from_le_bytes(wav[24..28].try_into().ok()?))
}

/// Playing time of a WAV of `total_len` bytes written by [`from_pcm`], in milliseconds.
pub fn duration_ms(total_len: u64, sample_rate: u32) -> u64 {
    let samples = total_len.saturating_sub(HEADER_LEN as u64) / 2;
    samples * 1000 / u64::from(sample_rate.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_describes_the_samples() {
        let pcm: Vec<u8> = (0..48_000u32)
            .flat_map(|i| (i as i16).to_le_bytes())
            .collect();
        let wav = from_pcm(&pcm, 24_000);
        assert_eq!(wav.len(), HEADER_LEN + pcm.len());
        assert_eq!(sample_rate(&wav), Some(24_000));
        assert_eq!(duration_ms(wav.len() as u64, 24_000), 2_000);
        assert_eq!(&wav[HEADER_LEN..], &pcm[..]);
        assert_eq!(
            sample_rate(b"not a wav file at all, just some bytes here."),
            None
        );
    }
}
