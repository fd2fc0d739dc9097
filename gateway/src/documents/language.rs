//! Which language a document is written in, so the player can propose a voice that speaks it.

use whatlang::Lang;

/// Enough text to tell a language apart; more only costs time.
const SAMPLE_CHARS: usize = 4_000;
/// About one sentence: less is not trusted on confidence alone.
const MIN_CONFIDENT_CHARS: usize = 40;

/// The document's language as an ISO 639-1 code (`en`, `es`, …; ISO 639-3 for a language
/// without one), or `None` when the text is too short or too mixed to tell reliably.
pub fn detect<'a>(texts: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut sample = String::new();
    for text in texts {
        if sample.chars().count() >= SAMPLE_CHARS {
            break;
        }
        sample.push_str(text);
        sample.push('\n');
    }
    let info = whatlang::detect(&sample)?;
    // whatlang calls a clear Hindi text unreliable because Marathi and Nepali share its
    // script; a high confidence on a full sentence is trusted too.
    let confident = info.confidence() >= 0.8 && sample.chars().count() >= MIN_CONFIDENT_CHARS;
    if !info.is_reliable() && !confident {
        return None;
    }
    Some(iso_639_1(info.lang()).map_or_else(|| info.lang().code().to_owned(), str::to_owned))
}

fn iso_639_1(lang: Lang) -> Option<&'static str> {
    Some(match lang {
        Lang::Eng => "en",
        Lang::Spa => "es",
        Lang::Fra => "fr",
        Lang::Hin => "hi",
        Lang::Ita => "it",
        Lang::Por => "pt",
        Lang::Jpn => "ja",
        Lang::Cmn => "zh",
        Lang::Deu => "de",
        Lang::Nld => "nl",
        Lang::Rus => "ru",
        Lang::Ukr => "uk",
        Lang::Pol => "pl",
        Lang::Ces => "cs",
        Lang::Swe => "sv",
        Lang::Dan => "da",
        Lang::Nob => "nb",
        Lang::Fin => "fi",
        Lang::Tur => "tr",
        Lang::Ara => "ar",
        Lang::Heb => "he",
        Lang::Kor => "ko",
        Lang::Vie => "vi",
        Lang::Ell => "el",
        Lang::Ron => "ro",
        Lang::Hun => "hu",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_the_languages_kokoro_speaks() {
        let cases = [
            (
                "en",
                "The keeper climbed the stairs every evening to light the lamp, as his father had taught him.",
            ),
            (
                "es",
                "El guardián subía las escaleras cada tarde para encender la lámpara, como le había enseñado su padre.",
            ),
            (
                "fr",
                "Le gardien montait l'escalier chaque soir pour allumer la lampe, comme son père le lui avait appris.",
            ),
            (
                "it",
                "Il guardiano saliva le scale ogni sera per accendere la lampada, come gli aveva insegnato suo padre.",
            ),
            (
                "pt",
                "O faroleiro subia as escadas todas as noites para acender a lâmpada, como o seu pai lhe ensinara.",
            ),
            (
                "hi",
                "भारत एक विशाल देश है और इसकी संस्कृति बहुत पुरानी है। यहाँ कई भाषाएँ बोली जाती हैं और लोग अलग अलग त्योहार मनाते हैं।",
            ),
            (
                "ja",
                "灯台守は毎晩、父に教わったとおりに階段を上ってランプに火をともした。",
            ),
        ];
        for (code, text) in cases {
            assert_eq!(detect([text]).as_deref(), Some(code), "{text}");
        }
    }

    #[test]
    fn too_little_text_is_unknown() {
        assert_eq!(detect(["OK"]), None);
        assert_eq!(detect(std::iter::empty()), None);
    }
}
