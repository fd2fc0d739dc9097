//! Grapheme-to-phoneme conversion into Kokoro's (misaki's) phoneme set, in the language of the
//! voice ([`Language`]).
//!
//! English (American and British) follows misaki's `en.G2P` without spaCy: [`normalize`] turns the text into
//! words and punctuation, each word is looked up in misaki's gold/silver lexicon (with its
//! stemming and special-case rules) and anything unknown goes to eSpeak NG, whose IPA is mapped
//! onto misaki's symbols. Words are resolved right to left because "the", "a" and "to" depend on
//! the sound that follows them. Spanish, French, Hindi, Italian and Portuguese go through
//! eSpeak NG in that language, mapped as misaki's `EspeakG2P` does. Mandarin follows misaki's
//! `ZHG2P` ([`mandarin`]: jieba words, pinyin, tone arrows); Japanese follows misaki's `JAG2P`
//! ([`japanese`]: OpenJTalk words and readings, misaki's kana symbols), given the dictionary
//! `make models` builds.

mod espeak;
pub mod japanese;
mod language;
mod lexicon;
mod mandarin;
mod normalize;
mod numbers;
mod pos;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use regex::Regex;

use japanese::Japanese;
pub use language::Language;
use lexicon::{Context, Lexicon};
pub use normalize::normalize;

/// Every symbol of Kokoro-82M's vocabulary (`models/vocab.json`); anything else is dropped
/// from the output because the model cannot embed it.
const VOCAB: &str = ";:,.!?—…\"()“” \u{303}ʣʥʦʨᵝꭧAIOQSTWYᵊabcdefhijklmnopqrstuvwxyzɑɐɒæβɔɕçɖðʤəɚɛɜɟɡɥɨɪʝɯɰŋɳɲɴøɸθœɹɾɻʁɽʂʃʈʧʊʋʌɣɤχʎʒʔˈˌːʰʲ↓→↗↘ᵻ";
/// Punctuation that makes the speaker pause; misaki's `NON_QUOTE_PUNCTS`.
const PAUSE_PUNCTUATION: &str = ";:,.!?—…";
/// No English word is longer than this (the lexicon's longest key has 45 characters). Longer
/// "words" are pasted data or noise, so they are cut to this length before lookup: eSpeak's
/// time and the output stay bounded while something of the word is still read.
const MAX_WORD_CHARS: usize = 48;

#[derive(Debug, thiserror::Error)]
pub enum G2pError {
    #[error("cannot read lexicon file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "lexicon file {path} is not a misaki lexicon (JSON object of word → phonemes): {source}"
    )]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("lexicon file {path}: entry {word:?} has no DEFAULT pronunciation")]
    MissingDefault { path: PathBuf, word: String },
    #[error(transparent)]
    Japanese(#[from] japanese::JapaneseError),
    /// A Japanese voice was asked for and the dictionary is not there (where it was looked
    /// for is logged at start, not told to clients).
    #[error(
        "Japanese voices are unavailable on this worker: it has no Japanese dictionary (`make models` builds it)"
    )]
    NoJapanese,
}

/// The US and GB lexicons, the Japanese dictionary (or why there is none) plus eSpeak NG;
/// cheap to share behind an `Arc`.
pub struct G2p {
    us: Lexicon,
    gb: Lexicon,
    japanese: Option<Japanese>,
}

#[derive(Debug, Clone, PartialEq)]
enum TokenKind {
    Word(String),
    Punctuation(char),
    /// Foreign scripts, emoji, stray symbols: nothing the model can say in English phonemes.
    Unspeakable,
}

#[derive(Debug)]
struct Token {
    kind: TokenKind,
    space_after: bool,
}

fn token_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(concat!(
            r"(?P<space>\s+)",
            r"|(?P<acronym>(?:\p{Latin}\.){2,})",
            r"|(?P<word>\p{Latin}[\p{Latin}\p{M}]*(?:['\-]\p{Latin}[\p{Latin}\p{M}]*)*'?)",
            r"|(?P<foreign>[\p{L}\p{M}\p{N}]+)",
            r"|(?P<other>(?s).)",
        ))
        .expect("literal regex is valid")
    })
}

fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens: Vec<Token> = Vec::new();
    for caps in token_regex().captures_iter(text) {
        if caps.name("space").is_some() {
            if let Some(last) = tokens.last_mut() {
                last.space_after = true;
            }
            continue;
        }
        let kind = if let Some(m) = caps.name("acronym").or_else(|| caps.name("word")) {
            TokenKind::Word(m.as_str().to_owned())
        } else if caps.name("foreign").is_some() {
            TokenKind::Unspeakable
        } else {
            let c = caps
                .name("other")
                .and_then(|m| m.as_str().chars().next())
                .unwrap_or(' ');
            punctuation(c, tokens.last())
        };
        tokens.push(Token {
            kind,
            space_after: false,
        });
    }
    tokens
}

/// misaki maps brackets and straight quotes the way spaCy tags them (`-LRB-`, ``` `` ```, `''`).
fn punctuation(c: char, previous: Option<&Token>) -> TokenKind {
    match c {
        ';' | ':' | ',' | '.' | '!' | '?' | '—' | '…' | '“' | '”' | '(' | ')' => {
            TokenKind::Punctuation(c)
        }
        '[' | '{' => TokenKind::Punctuation('('),
        ']' | '}' => TokenKind::Punctuation(')'),
        '"' => {
            let opens = previous.is_none_or(|t| {
                t.space_after || matches!(t.kind, TokenKind::Punctuation('(' | '“'))
            });
            TokenKind::Punctuation(if opens { '“' } else { '”' })
        }
        _ => TokenKind::Unspeakable,
    }
}

/// misaki's `token_context`: the first sound of `ps` decides whether a vowel follows.
fn next_context(ctx: Context, ps: &str) -> Context {
    for c in ps.chars() {
        if PAUSE_PUNCTUATION.contains(c) {
            return Context::default();
        }
        if lexicon::is_vowel(c) {
            return Context {
                future_vowel: Some(true),
                tag: None,
            };
        }
        if lexicon::CONSONANTS.contains(c) {
            return Context {
                future_vowel: Some(false),
                tag: None,
            };
        }
    }
    Context { tag: None, ..ctx }
}

fn truncate_word(word: &str) -> &str {
    word.char_indices()
        .nth(MAX_WORD_CHARS)
        .map_or(word, |(i, _)| &word[..i])
}

/// "twenty-one": misaki speaks numbers word by word, each with its own stress.
fn is_number_compound(parts: &[&str]) -> bool {
    parts.len() == 2 && numbers::TENS[2..].contains(&parts[0].to_lowercase().as_str())
}

/// misaki's `resolve_tokens` for the parts of a hyphenated word: when most parts carry primary
/// stress, the lighter half is demoted so the compound has one main stress.
fn join_compound(parts: &[(&str, String)]) -> String {
    let mut phonemes: Vec<String> = parts.iter().map(|(_, ps)| ps.clone()).collect();
    let texts: Vec<&str> = parts.iter().map(|(text, _)| *text).collect();
    if is_number_compound(&texts) {
        return phonemes.join(" ");
    }
    let mut indices: Vec<(bool, usize, usize)> = phonemes
        .iter()
        .enumerate()
        .filter(|(_, ps)| !ps.is_empty())
        .map(|(i, ps)| {
            (
                ps.contains(lexicon::PRIMARY_STRESS),
                lexicon::stress_weight(ps),
                i,
            )
        })
        .collect();
    if indices.len() == 2 && parts[indices[0].2].0.chars().count() == 1 {
        let i = indices[1].2;
        phonemes[i] = lexicon::apply_stress(&phonemes[i], Some(-0.5));
    } else if indices.len() >= 2
        && indices.iter().filter(|(primary, _, _)| *primary).count() > indices.len().div_ceil(2)
    {
        indices.sort();
        for &(_, _, i) in &indices[..indices.len() / 2] {
            phonemes[i] = lexicon::apply_stress(&phonemes[i], Some(-0.5));
        }
    }
    phonemes.concat()
}

impl G2p {
    /// Loads misaki's US and GB lexicons (`us_gold.json`, `us_silver.json`, `gb_gold.json`,
    /// `gb_silver.json`) and its Japanese word list (`ja_words.txt`) from `lexicon_dir`, the
    /// Japanese dictionary from `ja_dict`, and initialises eSpeak NG. eSpeak failing is not
    /// fatal: English lexicon words still work. A missing Japanese dictionary is not fatal
    /// either: the other languages work and a Japanese voice gets [`G2pError::NoJapanese`];
    /// a dictionary that is there but does not load is an error.
    pub fn load(lexicon_dir: &Path, ja_dict: &Path) -> Result<G2p, G2pError> {
        let us = Lexicon::load(lexicon_dir, false)?;
        let gb = Lexicon::load(lexicon_dir, true)?;
        if let Err(reason) = espeak::init() {
            tracing::warn!(%reason, "eSpeak NG unavailable; only English lexicon words can be spoken");
        }
        let japanese = match Japanese::load(ja_dict, &lexicon_dir.join("ja_words.txt")) {
            Ok(japanese) => Some(japanese),
            Err(missing @ japanese::JapaneseError::Missing { .. }) => {
                tracing::warn!(reason = %missing, "Japanese voices unavailable");
                None
            }
            Err(e) => return Err(e.into()),
        };
        Ok(G2p { us, gb, japanese })
    }

    /// Whether voices of `language` can be read here: only Japanese needs more than the
    /// lexicons, its dictionary.
    pub fn supports(&self, language: Language) -> Result<(), G2pError> {
        if language == Language::Japanese && self.japanese.is_none() {
            return Err(G2pError::NoJapanese);
        }
        Ok(())
    }

    /// The written words `text` is spoken as, for aligning word timings: English's
    /// normalised words, Japanese's dictionary words; nothing for the other languages, whose
    /// words are spread evenly over the text.
    pub fn word_texts(&self, text: &str, language: Language) -> Vec<String> {
        match (language, &self.japanese) {
            (Language::Japanese, Some(japanese)) => japanese.word_texts(text),
            (l, _) if l.is_english() => normalized_words(text),
            _ => Vec::new(),
        }
    }

    /// American English text → misaki phoneme string, e.g. "Hello, world!" → "həlˈO, wˈɜɹld!".
    pub fn phonemize(&self, text: &str) -> String {
        self.phonemize_in(text, Language::AmericanEnglish)
    }

    /// Text → misaki phonemes as a voice of `language` reads it.
    pub fn phonemize_in(&self, text: &str, language: Language) -> String {
        self.phonemize_before(text, language, None)
    }

    /// Like [`G2p::phonemize_in`] for a piece of a sentence that `following` continues: the
    /// last word is read as it is before the next one ("beneath a | parking lot" keeps the weak
    /// "a"), not in its sentence-final form. Only English changes its words by what follows.
    pub fn phonemize_before(
        &self,
        text: &str,
        language: Language,
        following: Option<&str>,
    ) -> String {
        self.phonemize_words(text, language, following).phonemes
    }

    /// Like [`G2p::phonemize_before`], with the spoken words the phonemes are made of. English
    /// names each word as normalisation wrote it ("1897" is spoken as "eighteen" and
    /// "ninety-seven"); the other languages give each space-separated group of phonemes, unnamed.
    pub fn phonemize_words(
        &self,
        text: &str,
        language: Language,
        following: Option<&str>,
    ) -> Phonemized {
        match language {
            Language::AmericanEnglish => english(text, &self.us, following),
            Language::BritishEnglish => english(text, &self.gb, following),
            Language::Mandarin => Phonemized::grouped(in_vocab(&mandarin::phonemize(text))),
            // Without its dictionary ([`G2p::supports`] says why) Japanese is not read at all:
            // eSpeak's reading is not what the voices were trained on.
            Language::Japanese => match &self.japanese {
                Some(japanese) => japanese.phonemize(text),
                None => Phonemized::default(),
            },
            other => Phonemized::grouped(foreign(text, other.espeak_voice())),
        }
    }
}

/// Phonemes and the words they speak.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Phonemized {
    pub phonemes: String,
    /// In order, each a range of `phonemes` in characters (one character is one model token).
    pub words: Vec<SpokenWord>,
}

/// One word as the model says it.
#[derive(Debug, Clone, PartialEq)]
pub struct SpokenWord {
    /// The word after normalisation ("eighteen"), or empty where the G2P cannot tell.
    pub text: String,
    /// Its phonemes: a range of [`Phonemized::phonemes`], in characters.
    pub phonemes: std::ops::Range<usize>,
}

impl Phonemized {
    /// Every run of phonemes between spaces and pause punctuation is a word.
    fn grouped(phonemes: String) -> Self {
        let mut words = Vec::new();
        let mut start = None;
        let mut count = 0;
        for (i, c) in phonemes.chars().enumerate() {
            let sounds =
                !(c.is_whitespace() || PAUSE_PUNCTUATION.contains(c) || "\"()“”".contains(c));
            match (sounds, start) {
                (true, None) => start = Some(i),
                (false, Some(s)) => {
                    words.push(SpokenWord {
                        text: String::new(),
                        phonemes: s..i,
                    });
                    start = None;
                }
                _ => {}
            }
            count = i + 1;
        }
        if let Some(s) = start {
            words.push(SpokenWord {
                text: String::new(),
                phonemes: s..count,
            });
        }
        Self { phonemes, words }
    }
}

/// The spoken words of `text` as English normalisation and tokenisation make them, without
/// their phonemes: what a written word is expected to sound like, for aligning timings.
pub fn normalized_words(text: &str) -> Vec<String> {
    tokenize(&normalize(text))
        .into_iter()
        .filter_map(|t| match t.kind {
            TokenKind::Word(word) => Some(word.to_lowercase()),
            _ => None,
        })
        .collect()
}

/// No English word's reading depends on more than the next word; a few dozen characters of
/// the following text hold it.
const LOOKAHEAD_CHARS: usize = 48;

fn english(text: &str, lexicon: &Lexicon, following: Option<&str>) -> Phonemized {
    let tokens = tokenize(&normalize(text));
    let mut phonemes: Vec<Option<String>> = vec![None; tokens.len()];
    // After the last token comes the end of the text, or the first word of what follows it.
    let mut ctx = Context::default();
    let mut next_is_word = false;
    if let Some(following) = following {
        let head: String = following.chars().take(LOOKAHEAD_CHARS).collect();
        if let Some(TokenKind::Word(word)) = tokenize(&normalize(&head)).first().map(|t| &t.kind)
            && let Some(ps) = word_phonemes(lexicon, word, Context::default(), false)
        {
            ctx = next_context(ctx, &ps);
            next_is_word = true;
        }
    }
    let word_at = |i: Option<usize>| match i.and_then(|i| tokens.get(i)).map(|t| &t.kind) {
        Some(TokenKind::Word(word)) => Some(word.as_str()),
        _ => None,
    };
    for (i, token) in tokens.iter().enumerate().rev() {
        let ps = match &token.kind {
            TokenKind::Word(word) => {
                let followed_by_word = match tokens.get(i + 1) {
                    Some(next) => matches!(next.kind, TokenKind::Word(_)),
                    None => next_is_word,
                };
                let (previous, next) = (word_at(i.checked_sub(1)), word_at(Some(i + 1)));
                // The decimal point is unstressed, as misaki reads it: "one point five".
                if word == "point"
                    && previous.is_some_and(numbers::is_number_word)
                    && next.is_some_and(numbers::is_number_word)
                {
                    Some("pYnt".to_owned())
                } else {
                    let tag = pos::guess(previous, word, next);
                    word_phonemes(lexicon, word, Context { tag, ..ctx }, followed_by_word)
                }
            }
            TokenKind::Punctuation(c) => Some(c.to_string()),
            TokenKind::Unspeakable => None,
        };
        if let Some(ps) = &ps {
            ctx = next_context(ctx, ps);
        }
        phonemes[i] = ps;
    }
    assemble(&tokens, &phonemes)
}

fn word_phonemes(
    lexicon: &Lexicon,
    word: &str,
    ctx: Context,
    followed_by_word: bool,
) -> Option<String> {
    let word = truncate_word(word);
    let parts: Vec<&str> = word.split('-').filter(|p| !p.is_empty()).collect();
    // The lexicon has some spelled numbers ("twenty-one") as one stress group, but misaki
    // reads numbers word by word; normalised digits must sound the same either way.
    if !is_number_compound(&parts)
        && let Some(ps) = lexicon.word(word, ctx, followed_by_word)
    {
        return Some(ps);
    }
    if parts.len() > 1 {
        let known: Vec<(&str, Option<String>)> = parts
            .iter()
            .map(|part| (*part, lexicon.word(part, ctx, false)))
            .collect();
        if known.iter().all(|(_, ps)| ps.is_some()) {
            let known: Vec<(&str, String)> = known
                .into_iter()
                .filter_map(|(part, ps)| ps.map(|ps| (part, ps)))
                .collect();
            return Some(join_compound(&known));
        }
    }
    espeak::phonemize_word(word, lexicon.is_british())
}

/// Punctuation that is spoken as a pause or kept as Kokoro's quote/bracket symbols; the text
/// between two of them is one eSpeak clause. Full-width CJK forms count as their ASCII twins.
fn foreign_punctuation(c: char) -> Option<char> {
    Some(match c {
        ';' | ':' | ',' | '.' | '!' | '?' | '—' | '…' | '“' | '”' | '(' | ')' => c,
        '，' | '、' => ',',
        '。' => '.',
        '！' => '!',
        '？' => '?',
        '：' => ':',
        '；' => ';',
        '«' => '“',
        '»' => '”',
        '[' | '{' | '（' => '(',
        ']' | '}' | '）' => ')',
        _ => return None,
    })
}

/// A language misaki reads through eSpeak NG: each clause between punctuation marks goes to
/// eSpeak in `voice` (which reads its own numbers, dates and abbreviations), and the
/// punctuation is kept, as phonemizer's `preserve_punctuation` does for misaki.
fn foreign(text: &str, voice: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut clause = String::new();
    let flush = |clause: &mut String, out: &mut String| {
        let words = clause.split_whitespace().collect::<Vec<_>>().join(" ");
        clause.clear();
        if words.is_empty() {
            return;
        }
        if let Some(ps) = espeak::phonemize_clause(&words, voice) {
            if !out.is_empty() && !out.ends_with([' ', '(', '“']) {
                out.push(' ');
            }
            out.push_str(&ps);
        }
    };
    for (i, &c) in chars.iter().enumerate() {
        // "3,5" and "1.000" are numbers for eSpeak to read, not two clauses.
        let between_digits = matches!(c, ',' | '.' | ':')
            && i > 0
            && chars[i - 1].is_ascii_digit()
            && chars.get(i + 1).is_some_and(char::is_ascii_digit);
        match foreign_punctuation(c).filter(|_| !between_digits) {
            Some(mark) => {
                flush(&mut clause, &mut out);
                if matches!(mark, '(' | '“') && !out.is_empty() && !out.ends_with(' ') {
                    out.push(' ');
                }
                out.push(mark);
            }
            // Spanish opening marks carry no sound of their own.
            None if matches!(c, '¡' | '¿') => flush(&mut clause, &mut out),
            None => clause.push(c),
        }
        if c.is_whitespace() && clause.trim().is_empty() && !out.is_empty() && !out.ends_with(' ') {
            out.push(' ');
        }
    }
    flush(&mut clause, &mut out);
    in_vocab(&out)
}

/// Only symbols the model can embed, single spaces between words.
fn in_vocab(phonemes: &str) -> String {
    let kept: String = phonemes.chars().filter(|c| VOCAB.contains(*c)).collect();
    kept.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Joins token phonemes the way misaki does (punctuation attached, a space where the text had
/// one), always separating two words, then applies misaki's v1 symbol substitutions and drops
/// anything outside the model's vocabulary. Each word's place in the result is kept.
fn assemble(tokens: &[Token], phonemes: &[Option<String>]) -> Phonemized {
    let mut out = String::new();
    let mut out_chars = 0;
    let mut words = Vec::new();
    let mut pending_space = false;
    let mut last_was_word = false;
    for (token, ps) in tokens.iter().zip(phonemes) {
        let ps = ps
            .as_deref()
            .map(|ps| {
                ps.chars()
                    .map(|c| match c {
                        'ɾ' => 'T',
                        'ʔ' => 't',
                        c => c,
                    })
                    .filter(|c| VOCAB.contains(*c))
                    .collect::<String>()
            })
            .unwrap_or_default();
        // Multi-word phonemes (spelled numbers, eSpeak clauses) keep single inner spaces.
        let ps = ps.split_whitespace().collect::<Vec<_>>().join(" ");
        if !ps.is_empty() {
            let is_word = matches!(token.kind, TokenKind::Word(_));
            if !out.is_empty() && (pending_space || (is_word && last_was_word)) {
                out.push(' ');
                out_chars += 1;
            }
            out.push_str(&ps);
            let start = out_chars;
            out_chars += ps.chars().count();
            if let TokenKind::Word(word) = &token.kind {
                words.push(SpokenWord {
                    text: word.to_lowercase(),
                    phonemes: start..out_chars,
                });
            }
            last_was_word = is_word;
            pending_space = false;
        }
        pending_space |= token.space_after;
    }
    Phonemized {
        phonemes: out,
        words,
    }
}

#[cfg(test)]
mod tests;
