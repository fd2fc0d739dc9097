//! eSpeak NG fallback for words the misaki lexicon does not know.
//!
//! eSpeak NG keeps all of its state in process globals and is not thread-safe, so every call
//! goes through one global mutex and the library is initialised exactly once. Its IPA output is
//! then rewritten into misaki's phoneme set the same way misaki's `EspeakFallback` does.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::sync::{Mutex, OnceLock};

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

/// Marker that eSpeak was initialised; holding the mutex is what makes a call safe.
struct Engine;

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
    let voice = c"en-us";
    // SAFETY: eSpeak is initialised and `voice` is a valid NUL-terminated string.
    let status = unsafe { espeak_SetVoiceByName(voice.as_ptr()) };
    if status != EE_OK {
        return Err(format!(
            "espeak_SetVoiceByName(\"en-us\") failed with code {status}"
        ));
    }
    Ok(Mutex::new(Engine))
}

/// Initialises eSpeak NG now rather than on the first unknown word, so a broken installation is
/// reported at start-up.
pub fn init() -> Result<(), String> {
    engine().map(|_| ()).map_err(str::to_owned)
}

/// Raw eSpeak IPA (with stress marks and `^` ties) for `text`, clause outputs joined by spaces.
fn raw_ipa(text: &str) -> Option<String> {
    let engine = engine().ok()?;
    // Interior NULs would truncate the C string; they carry no speech anyway.
    let c_text = CString::new(text.replace('\0', "")).ok()?;
    // A poisoned lock only means another thread panicked mid-call; eSpeak's state is still
    // usable for the next clause, so carry on rather than losing the fallback for good.
    let _guard = engine
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
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

/// Rewrites eSpeak's US-English IPA into misaki's phoneme set (misaki `EspeakFallback`,
/// american branch).
pub fn espeak_to_misaki(ipa: &str) -> String {
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
    let ps = moved
        .replace("o^ʊ", "O")
        .replace("ɜːɹ", "ɜɹ")
        .replace("ɜː", "ɜɹ")
        .replace("ɪə", "iə")
        .replace('ː', "")
        // eSpeak < 1.52 still writes a bare `o`, which misaki's US set spells `ɔ`.
        .replace('o', "ɔ");
    ps.replace(TIE, "")
}

/// misaki phonemes for a word the lexicon does not know, or `None` when eSpeak is unavailable
/// or has nothing to say for it.
pub fn phonemize_word(word: &str) -> Option<String> {
    let ipa = raw_ipa(word)?;
    let ps = espeak_to_misaki(&ipa);
    (!ps.trim().is_empty()).then_some(ps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e2m_maps_diphthongs_and_affricates() {
        assert_eq!(espeak_to_misaki("həlˈo^ʊ"), "həlˈO");
        assert_eq!(espeak_to_misaki("ˈa^ɪ"), "ˈI");
        assert_eq!(espeak_to_misaki("t^ʃˈe^ɪnd^ʒ"), "ʧˈAnʤ");
        assert_eq!(espeak_to_misaki("bˈɔ^ɪ"), "bˈY");
    }

    #[test]
    fn e2m_vowel_rules() {
        assert_eq!(espeak_to_misaki("wˈɜːld"), "wˈɜɹld");
        assert_eq!(espeak_to_misaki("fˈɑːðɚ"), "fˈɑðəɹ");
        assert_eq!(espeak_to_misaki("bˈɪəd"), "bˈiəd");
        assert_eq!(espeak_to_misaki("rˈoʊd"), "ɹˈɔʊd");
    }

    #[test]
    fn e2m_syllabic_consonant_gets_schwa_before_it() {
        assert_eq!(espeak_to_misaki("bˈʌʔˌn\u{329}"), "bˈʌtᵊn");
        // misaki rewrites `ʔn` before the syllabic rule runs, so an unstressed `ʔn̩` gets two
        // schwas; kept as-is to match misaki exactly.
        assert_eq!(espeak_to_misaki("bˈʌʔn\u{329}"), "bˈʌtᵊᵊn");
        assert_eq!(espeak_to_misaki("lˈɪʔl\u{329}"), "lˈɪtᵊl");
        assert_eq!(espeak_to_misaki("hˈɪdn\u{329}"), "hˈɪdᵊn");
    }

    #[test]
    fn espeak_is_available_and_speaks_english() {
        init().expect("eSpeak NG should initialise in the test environment");
        let ps = phonemize_word("hello").expect("eSpeak should phonemize 'hello'");
        assert!(ps.contains('l') && ps.contains('ˈ'), "{ps}");
    }
}
