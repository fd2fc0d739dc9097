//! The language a Kokoro voice speaks: the first letter of its slug, as Kokoro's `lang_code`.

/// One of Kokoro v1.0's nine languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    AmericanEnglish,
    BritishEnglish,
    Spanish,
    French,
    Hindi,
    Italian,
    BrazilianPortuguese,
    Japanese,
    Mandarin,
}

impl Language {
    pub const ALL: [Language; 9] = [
        Language::AmericanEnglish,
        Language::BritishEnglish,
        Language::Spanish,
        Language::French,
        Language::Hindi,
        Language::Italian,
        Language::BrazilianPortuguese,
        Language::Japanese,
        Language::Mandarin,
    ];

    /// `af_heart` → American English, `ef_dora` → Spanish; `None` for a slug of no known
    /// language.
    pub fn of_voice(slug: &str) -> Option<Language> {
        Some(match slug.chars().next()? {
            'a' => Language::AmericanEnglish,
            'b' => Language::BritishEnglish,
            'e' => Language::Spanish,
            'f' => Language::French,
            'h' => Language::Hindi,
            'i' => Language::Italian,
            'p' => Language::BrazilianPortuguese,
            'j' => Language::Japanese,
            'z' => Language::Mandarin,
            _ => return None,
        })
    }

    /// American or British English: the languages read through misaki's lexicons.
    pub fn is_english(self) -> bool {
        matches!(self, Language::AmericanEnglish | Language::BritishEnglish)
    }

    /// The BCP 47 tag the catalogue uses for it.
    pub fn tag(self) -> &'static str {
        match self {
            Language::AmericanEnglish => "en-US",
            Language::BritishEnglish => "en-GB",
            Language::Spanish => "es",
            Language::French => "fr-FR",
            Language::Hindi => "hi",
            Language::Italian => "it",
            Language::BrazilianPortuguese => "pt-BR",
            Language::Japanese => "ja",
            Language::Mandarin => "zh",
        }
    }

    /// The eSpeak NG voice misaki (through Kokoro's pipeline) reads it with: the voice file
    /// whose language is misaki's (`en-gb` is the file `en`, `fr-fr` the file `fr`), named as
    /// `espeak_SetVoiceByName` finds it.
    pub fn espeak_voice(self) -> &'static str {
        match self {
            Language::AmericanEnglish => "en-US",
            Language::BritishEnglish => "en",
            Language::Spanish => "es",
            Language::French => "fr",
            Language::Hindi => "hi",
            Language::Italian => "it",
            Language::BrazilianPortuguese => "pt-BR",
            Language::Japanese => "ja",
            Language::Mandarin => "cmn",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_voice_speaks_the_language_of_its_first_letter() {
        assert_eq!(
            Language::of_voice("af_heart"),
            Some(Language::AmericanEnglish)
        );
        assert_eq!(
            Language::of_voice("bm_george"),
            Some(Language::BritishEnglish)
        );
        assert_eq!(
            Language::of_voice("pm_santa").map(Language::tag),
            Some("pt-BR")
        );
        assert_eq!(
            Language::of_voice("zf_xiaoyi").map(Language::tag),
            Some("zh")
        );
        assert_eq!(Language::of_voice("xx_nobody"), None);
        assert_eq!(Language::of_voice(""), None);
    }
}
