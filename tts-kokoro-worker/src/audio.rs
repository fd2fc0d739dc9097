//! Shaping the model's float output into the PCM a listener hears: trimmed edges, short fades so
//! chunks join without clicks, and a pause after each chunk that matches its punctuation.

use crate::model::SAMPLE_RATE;

/// Below this the model's output is silence (about -54 dBFS).
const SILENCE: f32 = 0.002;
/// Silence kept before and after the voiced part, so soft onsets and releases are not cut.
const KEEP_MS: u32 = 25;
/// Length of the fade in and out at each chunk's edges.
const FADE_MS: u32 = 8;
/// Silence before the first word of a request: a player starting an audio element can swallow
/// the first few milliseconds, and a plosive right at the start sounds clipped.
const LEAD_IN_MS: u32 = 80;

fn samples(ms: u32) -> usize {
    (SAMPLE_RATE * ms / 1000) as usize
}

/// A chunk's audio as a listener hears it, and where the model's samples went.
#[derive(Debug, Clone, PartialEq)]
pub struct Shaped {
    pub samples: Vec<f32>,
    /// Where the model's sample 0 lands in `samples` (negative when silence was trimmed): its
    /// sample `i` is at `i + origin`, for word timings.
    pub origin: i64,
    /// Samples before the pause, the ones that carry speech.
    pub voiced: usize,
}

/// Trims the model's leading and trailing silence, fades both edges and appends `pause_ms` of
/// silence (scaled by `speed`, as the speech is). The first chunk of a request (`lead_in`)
/// starts with [`LEAD_IN_MS`] of silence, padded when the model left less.
pub fn shape_chunk(audio: &[f32], lead_in: bool, pause_ms: u32, speed: f32) -> Vec<f32> {
    shape(audio, lead_in, pause_ms, speed).samples
}

/// [`shape_chunk`], telling where the model's samples went.
pub fn shape(audio: &[f32], lead_in: bool, pause_ms: u32, speed: f32) -> Shaped {
    let keep = samples(KEEP_MS);
    let lead = if lead_in { samples(LEAD_IN_MS) } else { keep };
    let first = audio.iter().position(|s| s.abs() > SILENCE);
    let last = audio.iter().rposition(|s| s.abs() > SILENCE);
    let (padding, cut, voiced) = match (first, last) {
        (Some(first), Some(last)) => (
            lead.saturating_sub(first),
            first.saturating_sub(lead),
            &audio[first.saturating_sub(lead)..(last + 1 + keep).min(audio.len())],
        ),
        _ => (0, 0, &[][..]),
    };
    let pause = (samples(pause_ms) as f32 / speed.max(0.1)) as usize;
    let mut out = Vec::with_capacity(padding + voiced.len() + pause);
    out.resize(padding, 0.0);
    out.extend_from_slice(voiced);
    let fade = samples(FADE_MS).min(out.len() / 2);
    for i in 0..fade {
        let gain = i as f32 / fade as f32;
        out[i] *= gain;
        let end = out.len() - 1 - i;
        out[end] *= gain;
    }
    let voiced = out.len();
    out.resize(out.len() + pause, 0.0);
    Shaped {
        samples: out,
        origin: padding as i64 - cut as i64,
        voiced,
    }
}

/// Float samples → 16-bit little-endian PCM, clipped.
pub fn to_pcm16(audio: &[f32]) -> Vec<u8> {
    let mut pcm = Vec::with_capacity(audio.len() * 2);
    for sample in audio {
        let value = (sample.clamp(-1.0, 1.0) * i16::MAX as f32).round() as i16;
        pcm.extend_from_slice(&value.to_le_bytes());
    }
    pcm
}

/// Root-mean-square level of 16-bit PCM, 0.0 to 1.0.
pub fn pcm16_rms(pcm: &[u8]) -> f64 {
    let count = pcm.len() / 2;
    if count == 0 {
        return 0.0;
    }
    let sum: f64 = pcm
        .chunks_exact(2)
        .map(|b| {
            let s = i16::from_le_bytes([b[0], b[1]]) as f64 / i16::MAX as f64;
            s * s
        })
        .sum();
    (sum / count as f64).sqrt()
}

/// Writes 16-bit mono PCM as a WAV file.
pub fn write_wav(path: &std::path::Path, pcm: &[u8], sample_rate: u32) -> Result<(), hound::Error> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(path, spec)?;
    for b in pcm.chunks_exact(2) {
        writer.write_sample(i16::from_le_bytes([b[0], b[1]]))?;
    }
    writer.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(len: usize) -> Vec<f32> {
        (0..len).map(|i| (i as f32 * 0.05).sin() * 0.5).collect()
    }

    #[test]
    fn trims_silence_fades_edges_and_adds_the_pause() {
        let mut audio = vec![0.0; 4_800];
        audio.extend(tone(24_000));
        audio.extend(vec![0.0; 4_800]);
        let shaped = shape_chunk(&audio, false, 300, 1.0);
        let keep = samples(KEEP_MS);
        let pause = samples(300);
        assert!(
            shaped.len().abs_diff(24_000 + 2 * keep + pause) <= 2,
            "{}",
            shaped.len()
        );
        // Edges start and end at zero: no click at a join.
        assert_eq!(shaped[0], 0.0);
        assert!(shaped[shaped.len() - pause - 1].abs() < 1e-3);
        assert!(shaped[shaped.len() - pause..].iter().all(|s| *s == 0.0));
    }

    #[test]
    fn faster_speech_gets_shorter_pauses_and_silence_stays_silent() {
        let shaped = shape_chunk(&tone(2_400), false, 300, 2.0);
        assert!(shaped.len() < 2_400 + samples(300));
        assert_eq!(shape_chunk(&[0.0; 100], false, 0, 1.0).len(), 0);
    }

    #[test]
    fn the_first_chunk_keeps_a_lead_in_before_its_first_sound() {
        let lead = samples(LEAD_IN_MS);
        // The model left only 10 ms before the first sound: padded to the full lead-in.
        let mut audio = vec![0.0; samples(10)];
        audio.extend(tone(4_800));
        let shaped = shape_chunk(&audio, true, 0, 1.0);
        let onset = shaped.iter().position(|s| s.abs() > SILENCE).unwrap();
        assert!(onset >= lead, "first sound at {onset}, lead-in {lead}");
        // Only silence was added: the sound itself is the model's, sample for sample.
        let padding = shaped.len() - audio.len();
        assert!(shaped[..padding].iter().all(|s| *s == 0.0));
        assert_eq!(shaped[padding + 2_400], audio[2_400]);
        // A later chunk keeps only the short margin.
        let later = shape_chunk(&audio, false, 0, 1.0);
        assert!(later.iter().position(|s| s.abs() > SILENCE).unwrap() < lead / 2);
    }

    #[test]
    fn the_origin_says_where_the_model_samples_went() {
        let mut audio = vec![0.0; 4_800];
        audio.extend(tone(2_400));
        audio.extend(vec![0.0; 4_800]);
        for lead_in in [false, true] {
            let shaped = shape(&audio, lead_in, 200, 1.0);
            let at = |i: usize| (i as i64 + shaped.origin) as usize;
            // Away from the faded edges, the model's sample i is the shaped sample i + origin.
            assert_eq!(shaped.samples[at(4_800 + 1_000)], audio[4_800 + 1_000]);
            assert_eq!(shaped.voiced + samples(200), shaped.samples.len());
        }
        // Padding before a sound at the very start moves the origin forward.
        let mut early = vec![0.0; samples(10)];
        early.extend(tone(2_400));
        assert!(shape(&early, true, 0, 1.0).origin > 0);
    }

    #[test]
    fn pcm_conversion_clips_and_measures_level() {
        let pcm = to_pcm16(&[0.0, 1.0, -2.0]);
        assert_eq!(pcm, vec![0, 0, 0xff, 0x7f, 0x01, 0x80]);
        assert!(pcm16_rms(&to_pcm16(&[0.5; 100])) > 0.49);
        assert_eq!(pcm16_rms(&[]), 0.0);
    }
}
