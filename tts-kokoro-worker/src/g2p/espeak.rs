//! eSpeak NG: the fallback for English words the misaki lexicon does not know, and the whole
//! G2P of the languages misaki reads through eSpeak (Spanish, French, Hindi, Italian,
//! Portuguese).
//!
//! eSpeak NG keeps all of its state in process globals and is not thread-safe, so every call
//! goes through one global mutex and the library is initialised exactly once; the mutex also
//! guards which eSpeak voice (language) is selected. Its IPA output is then rewritten into
//! misaki's phoneme set the same way misaki's `EspeakFallback` (English) and `EspeakG2P` (the
//! other languages) do.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::sync::{Mutex, OnceLock};

use super::Language;

/// `espeak_AUDIO_OUTPUT::AUDIO_OUTPUT_SYNCHRONOUS`: no audio device is opened.
const AUDIO_OUTPUT_SYNCHRONOUS: c_int = 2;
/// Without this flag eSpeak calls `exit()` when its data directory is missing.
const ESPEAK_INITIALIZE_DONT_EXIT: c_int = 0x8000;
const ESPEAK_CHARS_UTF8: c_int = 1;
const EE_OK: c_int = 0;
/// Tie character placed inside multi-letter phonemes (`a^ɪ`), as misaki's phonemizer setup uses;
/// the E2M table below matches on it.
const TIE: char = '^';
/// bit 1: IPA output; bit 7: bits 8-23 are a tie inside multi-letter phonemes.
const PHONEME_MODE: c_int = 0x02 | 0x80 | ((TIE as c_int) << 8);
/// eSpeak returns one clause per call; a word never needs more than a handful, so this only
/// guards against a library that never advances the text pointer.
const MAX_CLAUSES: usize = 64;

#[link(name = "espeak-ng")]
unsafe extern "C" {
    fn espeak_Initialize(
        output: c_int,
        buflength: c_int,
        path: *const c_char,
        options: c_int,
    ) -> c_int;
    fn espeak_SetVoiceByName(name: *const c_char) -> c_int;
    fn espeak_TextToPhonemes(
        textptr: *mut *const c_void,
        textmode: c_int,
        phonememode: c_int,
    ) -> *const c_char;
}

/// eSpeak after initialisation, with the voice (language) it has selected; holding the mutex is
/// what makes a call safe.
struct Engine {
    voice: String,
}

static ENGINE: OnceLock<Result<Mutex<Engine>, String>> = OnceLock::new();

fn engine() -> Result<&'static Mutex<Engine>, &'static str> {
    ENGINE
        .get_or_init(initialise)
        .as_ref()
        .map_err(String::as_str)
}

fn initialise() -> Result<Mutex<Engine>, String> {
    // SAFETY: called once (inside OnceLock::get_or_init) before any other eSpeak call; a null
    // path means the distribution's default data directory.
    let sample_rate = unsafe {
        espeak_Initialize(
            AUDIO_OUTPUT_SYNCHRONOUS,
            0,
            std::ptr::null(),
            ESPEAK_INITIALIZE_DONT_EXIT,
        )
    };
    if sample_rate <= 0 {
        return Err(format!(
            "espeak_Initialize failed (returned {sample_rate}); is espeak-ng-data installed?"
        ));
    }
    let mut engine = Engine {
        voice: String::new(),
    };
    engine.select(Language::AmericanEnglish.espeak_voice())?;
    Ok(Mutex::new(engine))
}

impl Engine {
    /// Selects an eSpeak voice (a language such as `es` or `fr-fr`) unless it already is.
    fn select(&mut self, voice: &str) -> Result<(), String> {
        if self.voice == voice {
            return Ok(());
        }
        let name = CString::new(voice).map_err(|e| e.to_string())?;
        // SAFETY: eSpeak is initialised, the caller holds the engine's mutex (or is the
        // initialiser, before anyone else can reach it), and `name` is NUL-terminated.
        let status = unsafe { espeak_SetVoiceByName(name.as_ptr()) };
        if status != EE_OK {
            return Err(format!(
                "espeak_SetVoiceByName({voice:?}) failed with code {status}; is espeak-ng-data installed?"
            ));
        }
        self.voice = voice.to_owned();
        Ok(())
    }
}

/// Initialises eSpeak NG now rather than on the first unknown word, so a broken installation is
/// reported at start-up.
pub fn init() -> Result<(), String> {
    engine().map(|_| ()).map_err(str::to_owned)
}

/// Raw eSpeak IPA (with stress marks and `^` ties) for `text` read in the eSpeak voice `voice`,
/// clause outputs joined by spaces.
fn raw_ipa(text: &str, voice: &str) -> Option<String> {
    let engine = engine().ok()?;
    // Interior NULs would truncate the C string; they carry no speech anyway.
    let c_text = CString::new(text.replace('\0', "")).ok()?;
    // A poisoned lock only means another thread panicked mid-call; eSpeak's state is still
    // usable for the next clause, so carry on rather than losing the fallback for good.
    let mut guard = engine
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Err(reason) = guard.select(voice) {
        tracing::warn!(%reason, "eSpeak cannot speak this language");
        return None;
    }
    let mut ptr: *const c_void = c_text.as_ptr().cast();
    let mut clauses: Vec<String> = Vec::new();
    for _ in 0..MAX_CLAUSES {
        if ptr.is_null() {
            break;
        }
        // SAFETY: the mutex serialises all eSpeak calls; `ptr` points into `c_text`, which
        // outlives this loop, and eSpeak only advances it within the string or sets it to null.
        let out = unsafe { espeak_TextToPhonemes(&mut ptr, ESPEAK_CHARS_UTF8, PHONEME_MODE) };
        if out.is_null() {
            break;
        }
        // SAFETY: eSpeak returns a NUL-terminated buffer that stays valid until its next call,
        // which cannot happen while we hold the lock; we copy it out immediately.
        let clause = unsafe { CStr::from_ptr(out) }.to_string_lossy();
        let clause = clause.trim();
        if !clause.is_empty() {
            clauses.push(clause.to_owned());
        }
    }
    let joined = clauses.join(" ");
    (!joined.is_empty()).then_some(joined)
}

/// misaki's `FROM_ESPEAKS`, longest pattern first so that e.g. `ʔˌn̩` wins over `ʔ`.
const FROM_ESPEAKS: &[(&str, &str)] = &[
    ("ʔˌn\u{329}", "tᵊn"),
    ("a^ɪ", "I"),
    ("a^ʊ", "W"),
    ("d^ʒ", "ʤ"),
    ("e^ɪ", "A"),
    ("t^ʃ", "ʧ"),
    ("ɔ^ɪ", "Y"),
    ("ə^l", "ᵊl"),
    ("ʔn", "tᵊn"),
    ("ʲO", "jO"),
    ("ʲQ", "jQ"),
    ("\u{303}", ""),
    ("e", "A"),
    ("r", "ɹ"),
    ("x", "k"),
    ("ç", "k"),
    ("ɐ", "ə"),
    ("ɚ", "əɹ"),
    ("ɬ", "l"),
    ("ʔ", "t"),
    ("ʲ", ""),
];

const SYLLABIC: char = '\u{329}';

/// Rewrites eSpeak's English IPA into misaki's phoneme set (misaki `EspeakFallback`).
pub fn espeak_to_misaki(ipa: &str, british: bool) -> String {
    let mut ps = ipa.trim().to_owned();
    for (old, new) in FROM_ESPEAKS {
        ps = ps.replace(old, new);
    }
    // A syllabic consonant `n̩` becomes `ᵊn`: the schwa goes before the consonant it marks.
    let mut moved = String::with_capacity(ps.len());
    let mut chars = ps.chars().peekable();
    while let Some(c) = chars.next() {
        if !c.is_whitespace() && c != SYLLABIC && chars.peek() == Some(&SYLLABIC) {
            moved.push('ᵊ');
            moved.push(c);
            chars.next();
        } else if c != SYLLABIC {
            moved.push(c);
        }
    }
    let ps = if british {
        moved
            .replace("e^ə", "ɛː")
            .replace("iə", "ɪə")
            .replace("ə^ʊ", "Q")
    } else {
        moved
            .replace("o^ʊ", "O")
            .replace("ɜːɹ", "ɜɹ")
            .replace("ɜː", "ɜɹ")
            .replace("ɪə", "iə")
            .replace('ː', "")
    };
    // eSpeak < 1.52 still writes a bare `o`, which misaki's sets spell `ɔ`.
    ps.replace('o', "ɔ").replace(TIE, "")
}

/// misaki phonemes for an English word the lexicon does not know, or `None` when eSpeak is
/// unavailable or has nothing to say for it.
pub fn phonemize_word(word: &str, british: bool) -> Option<String> {
    let language = if british {
        Language::BritishEnglish
    } else {
        Language::AmericanEnglish
    };
    let ipa = raw_ipa(word, language.espeak_voice())?;
    let ps = espeak_to_misaki(&ipa, british);
    (!ps.trim().is_empty()).then_some(ps)
}

/// misaki's `EspeakG2P` table: eSpeak's tied multi-letter phonemes as Kokoro's single symbols.
const FOREIGN_E2M: &[(&str, &str)] = &[
    ("a^ɪ", "I"),
    ("a^ʊ", "W"),
    ("d^z", "ʣ"),
    ("d^ʒ", "ʤ"),
    ("e^ɪ", "A"),
    ("o^ʊ", "O"),
    ("ə^ʊ", "Q"),
    ("s^s", "S"),
    ("t^s", "ʦ"),
    ("t^ʃ", "ʧ"),
    ("ɔ^ɪ", "Y"),
];

/// Rewrites eSpeak IPA of a language other than English into misaki's phonemes (misaki
/// `EspeakG2P`, v1.0): tied pairs become single symbols, remaining ties and eSpeak's hyphens go,
/// and language-switch flags such as `(en)` are removed (phonemizer's `remove-flags`).
pub fn foreign_to_misaki(ipa: &str) -> String {
    let mut ps = String::with_capacity(ipa.len());
    let mut rest = ipa.trim();
    // A flag is a parenthesised eSpeak language name, e.g. `(en)` or `(pt-br)`.
    while let Some(open) = rest.find('(') {
        ps.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find(')') {
            Some(close)
                if close > 0
                    && after[..close]
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b == b'-') =>
            {
                rest = &after[close + 1..];
            }
            _ => {
                ps.push('(');
                rest = after;
            }
        }
    }
    ps.push_str(rest);
    for (old, new) in FOREIGN_E2M {
        ps = ps.replace(old, new);
    }
    ps.replace([TIE, '-'], "")
}

/// misaki phonemes for `text` (one clause, no pause punctuation) in the eSpeak voice `voice`,
/// or `None` when eSpeak is unavailable or has nothing to say for it.
pub fn phonemize_clause(text: &str, voice: &str) -> Option<String> {
    let ipa = raw_ipa(text, voice)?;
    let ps = foreign_to_misaki(&ipa);
    (!ps.trim().is_empty()).then_some(ps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e2m_maps_diphthongs_and_affricates() {
        assert_eq!(espeak_to_misaki("həlˈo^ʊ", false), "həlˈO");
        assert_eq!(espeak_to_misaki("ˈa^ɪ", false), "ˈI");
        assert_eq!(espeak_to_misaki("t^ʃˈe^ɪnd^ʒ", false), "ʧˈAnʤ");
        assert_eq!(espeak_to_misaki("bˈɔ^ɪ", false), "bˈY");
    }

    #[test]
    fn e2m_vowel_rules() {
        assert_eq!(espeak_to_misaki("wˈɜːld", false), "wˈɜɹld");
        assert_eq!(espeak_to_misaki("fˈɑːðɚ", false), "fˈɑðəɹ");
        assert_eq!(espeak_to_misaki("bˈɪəd", false), "bˈiəd");
        assert_eq!(espeak_to_misaki("rˈoʊd", false), "ɹˈɔʊd");
    }

    #[test]
    fn e2m_british_keeps_long_vowels_and_its_own_diphthongs() {
        assert_eq!(espeak_to_misaki("wˈɜːld", true), "wˈɜːld");
        assert_eq!(espeak_to_misaki("həlˈə^ʊ", true), "həlˈQ");
        // misaki maps `e` to `A` before its British `e^ə` → `ɛː` rule can see it; kept as-is.
        assert_eq!(espeak_to_misaki("ðˈe^ə", true), "ðˈAə");
    }

    #[test]
    fn e2m_of_other_languages_ties_symbols_and_drops_flags() {
        assert_eq!(foreign_to_misaki("bwˈenos dˈi^as"), "bwˈenos dˈias");
        assert_eq!(foreign_to_misaki("ˈt^ʃao"), "ˈʧao");
        assert_eq!(foreign_to_misaki("(en)wˈiːkɛnd(fr)"), "wˈiːkɛnd");
        assert_eq!(foreign_to_misaki("pˈa^ɪs-de"), "pˈIsde");
    }

    #[test]
    fn espeak_speaks_spanish_and_french_and_returns_to_english() {
        let es = phonemize_clause("hola amigos", "es").expect("eSpeak speaks Spanish");
        assert!(es.starts_with("ˈola") || es.starts_with("ola"), "{es}");
        let fr = phonemize_clause("bonjour", "fr").expect("eSpeak speaks French");
        assert!(fr.contains('ʒ') && fr.contains('ʁ'), "{fr}");
        // The voice is switched back for the English fallback under the same lock.
        let en = phonemize_word("hello", false).expect("and English again");
        assert!(en.contains('l') && !en.contains('ʁ'), "{en}");
    }

    #[test]
    fn e2m_syllabic_consonant_gets_schwa_before_it() {
        assert_eq!(espeak_to_misaki("bˈʌʔˌn\u{329}", false), "bˈʌtᵊn");
        // misaki rewrites `ʔn` before the syllabic rule runs, so an unstressed `ʔn̩` gets two
        // schwas; kept as-is to match misaki exactly.
        assert_eq!(espeak_to_misaki("bˈʌʔn\u{329}", false), "bˈʌtᵊᵊn");
        assert_eq!(espeak_to_misaki("lˈɪʔl\u{329}", false), "lˈɪtᵊl");
        assert_eq!(espeak_to_misaki("hˈɪdn\u{329}", false), "hˈɪdᵊn");
    }

    #[test]
    fn espeak_is_available_and_speaks_english() {
        init().expect("eSpeak NG should initialise in the test environment");
        let ps = phonemize_word("hello", false).expect("eSpeak should phonemize 'hello'");
        assert!(ps.contains('l') && ps.contains('ˈ'), "{ps}");
    }
}
