//! OpenAI's names on the speech endpoint: clients written for OpenAI send `model: "tts-1"` and
//! voices such as `alloy` or `nova`; they are read as Kokoro and a Kokoro voice of a similar
//! character (the five that Kokoro also has by name are that voice).

/// The model OpenAI clients name, read as this one.
const MODEL: &str = "kokoro";

/// OpenAI's speech models.
const OPENAI_MODELS: &[&str] = &["tts-1", "tts-1-hd", "gpt-4o-mini-tts"];

/// OpenAI voice → Kokoro voice (documented in docs/api.md).
pub const OPENAI_VOICES: &[(&str, &str)] = &[
    ("alloy", "af_alloy"),
    ("ash", "am_michael"),
    ("ballad", "bm_george"),
    ("coral", "af_heart"),
    ("echo", "am_echo"),
    ("fable", "bm_fable"),
    ("nova", "af_nova"),
    ("onyx", "am_onyx"),
    ("sage", "af_sarah"),
    ("shimmer", "af_sky"),
    ("verse", "am_puck"),
];

/// The catalogue's model and voice for what a client sent: OpenAI's model names become Kokoro,
/// and on Kokoro an OpenAI voice name becomes its Kokoro voice. Anything else is left as sent.
pub fn resolve<'a>(model: &'a str, voice: &'a str) -> (&'a str, &'a str) {
    let model = if OPENAI_MODELS.contains(&model) {
        MODEL
    } else {
        model
    };
    let voice = match OPENAI_VOICES.iter().find(|(name, _)| *name == voice) {
        Some((_, kokoro)) if model == MODEL => kokoro,
        _ => voice,
    };
    (model, voice)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_names_map_to_kokoro_and_others_pass_through() {
        assert_eq!(resolve("tts-1", "alloy"), ("kokoro", "af_alloy"));
        assert_eq!(resolve("kokoro", "shimmer"), ("kokoro", "af_sky"));
        assert_eq!(resolve("tts-1-hd", "af_bella"), ("kokoro", "af_bella"));
        assert_eq!(resolve("higgs", "nova"), ("higgs", "nova"));
        assert_eq!(
            resolve("kokoro", "af_bella(2)+af_sky"),
            ("kokoro", "af_bella(2)+af_sky")
        );
    }
}
