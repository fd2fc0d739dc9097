//! Is a WAV what a listener would hear as speech: readable, long enough, not silence?

use anyhow::{Context, Result, ensure};

/// Shortest audio a spoken sentence can be, in seconds.
const MIN_SECONDS: f64 = 0.3;
/// Peak below which the clip is silence (about -30 dBFS); Kokoro's speech peaks far above.
const MIN_PEAK: i32 = 1_000;

/// A one-line description of the clip, or why it is not audible speech.
pub fn audible(bytes: &[u8]) -> Result<String> {
    let reader = hound::WavReader::new(std::io::Cursor::new(bytes)).context("not a WAV file")?;
    let spec = reader.spec();
    ensure!(
        spec.sample_format == hound::SampleFormat::Int && spec.bits_per_sample == 16,
        "a WAV of {:?} {}-bit samples, expected 16-bit integers",
        spec.sample_format,
        spec.bits_per_sample
    );
    let samples: Vec<i16> = reader
        .into_samples::<i16>()
        .collect::<Result<_, _>>()
        .context("the WAV's samples are unreadable")?;
    let frames = samples.len() / usize::from(spec.channels.max(1));
    let seconds = frames as f64 / f64::from(spec.sample_rate);
    ensure!(
        seconds >= MIN_SECONDS,
        "{seconds:.2} s of audio, expected at least {MIN_SECONDS} s"
    );
    let peak = samples
        .iter()
        .map(|s| i32::from(*s).abs())
        .max()
        .unwrap_or(0);
    ensure!(
        peak >= MIN_PEAK,
        "the audio is silent (peak {peak} of 32767)"
    );
    Ok(format!(
        "{seconds:.2} s WAV, {} Hz, peak {peak} of 32767",
        spec.sample_rate
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(samples: impl Iterator<Item = i16>) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 24_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut writer = hound::WavWriter::new(&mut out, spec).unwrap();
        for s in samples {
            writer.write_sample(s).unwrap();
        }
        writer.finalize().unwrap();
        out.into_inner()
    }

    #[test]
    fn a_tone_is_audible() {
        let tone = (0..24_000).map(|i| ((i as f64 * 0.1).sin() * 8_000.0) as i16);
        assert!(audible(&wav(tone)).unwrap().starts_with("1.00 s WAV"));
    }

    #[test]
    fn silence_and_a_click_are_not() {
        let silence = audible(&wav(std::iter::repeat_n(3, 24_000))).unwrap_err();
        assert!(silence.to_string().contains("silent"), "{silence}");
        let click = audible(&wav(std::iter::repeat_n(9_000, 240))).unwrap_err();
        assert!(click.to_string().contains("0.01 s"), "{click}");
        assert!(audible(b"<html>not audio</html>").is_err());
    }
}
