//! Japanese: kanji and kana → misaki's Japanese phonemes, as the `j` voices were trained.
//!
//! Kokoro's pipeline reads Japanese with misaki's `JAG2P()`, whose default is its adapted
//! `cutlet`: MeCab words with their pronunciation in kana, grouped into longer words by
//! misaki's `ja_words.txt`, each kana mapped to IPA-like symbols (`HEPBURN`), a space after
//! every word. Here OpenJTalk (jpreprocess, on the naist-jdic dictionary that `make models`
//! builds) gives the words and their pronunciations, numbers read in words included, and the
//! rest follows cutlet rule for rule. Where OpenJTalk and misaki's UniDic split a sentence
//! differently only the spaces between words change, not the sounds.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use jpreprocess::{DefaultTokenizer, JPreprocess, SystemDictionaryConfig};
use unicode_normalization::UnicodeNormalization;

use super::{Phonemized, SpokenWord, VOCAB};

mod kana;
#[cfg(test)]
mod tests;

use kana::{is_kana, kana_word, kata_to_hira, symbol};

/// The file `build-ja-dict` writes last: what the dictionary was built from and by which
/// jpreprocess. A dictionary folder without it is incomplete.
pub const SOURCE_STAMP: &str = "SOURCE";

/// The stamp's line naming the jpreprocess that built the dictionary: its binary format is
/// that version's.
fn builder_line() -> String {
    format!("jpreprocess {}", jpreprocess::VERSION)
}

#[derive(Debug, thiserror::Error)]
pub enum JapaneseError {
    #[error(
        "the Japanese dictionary {path} is missing, incomplete or built by another jpreprocess than {} (whose format may differ); `make models` builds it (scripts/ja-dict.sh), or point KOKORO_JA_DICT at one",
        jpreprocess::VERSION
    )]
    Missing { path: PathBuf },
    #[error("cannot load the Japanese dictionary {path}: {reason}")]
    Load { path: PathBuf, reason: String },
    #[error("cannot read misaki's Japanese word list {path}: {source}")]
    Words {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot build the Japanese dictionary from {source_dir} into {out}: {reason}")]
    Build {
        source_dir: PathBuf,
        out: PathBuf,
        reason: String,
    },
}

/// OpenJTalk's analysis plus misaki's word list; cheap to share behind an `Arc`.
pub struct Japanese {
    frontend: JPreprocess<DefaultTokenizer>,
    words: HashSet<String>,
    longest_word: usize,
}

/// Builds jpreprocess's dictionary in `out` from a naist-jdic source folder (OpenJTalk's
/// `mecab-naist-jdic/`: `naist-jdic.csv`, `unidic-csj.csv`, `matrix.def`, `char.def`,
/// `unk.def`, UTF-8) and stamps it with `source_sha256`, the source tarball's SHA-256.
pub fn build_dictionary(
    source_dir: &Path,
    out: &Path,
    source_sha256: &str,
) -> Result<(), JapaneseError> {
    let fail = |reason: String| JapaneseError::Build {
        source_dir: source_dir.to_owned(),
        out: out.to_owned(),
        reason,
    };
    if !source_dir.join("naist-jdic.csv").is_file() {
        return Err(fail("it holds no naist-jdic.csv".to_owned()));
    }
    // Built beside `out` and moved into place, so a failed build leaves nothing that loads.
    let partial = out.with_extension("partial");
    let _ = std::fs::remove_dir_all(&partial);
    jpreprocess_dictionary::dictionary::to_dict::JPreprocessDictionaryBuilder::default()
        .build_dictionary(source_dir, &partial)
        .map_err(|e| fail(e.to_string()))?;
    let stamp = format!(
        "open-jtalk naist-jdic sha256 {source_sha256}\n{}\n",
        builder_line()
    );
    std::fs::write(partial.join(SOURCE_STAMP), stamp).map_err(|e| fail(e.to_string()))?;
    let _ = std::fs::remove_dir_all(out);
    std::fs::rename(&partial, out).map_err(|e| fail(e.to_string()))?;
    Ok(())
}

impl Japanese {
    /// Loads the dictionary folder `dictionary` (`build-ja-dict`'s output) and misaki's
    /// `ja_words.txt` (one word a line).
    pub fn load(dictionary: &Path, word_list: &Path) -> Result<Japanese, JapaneseError> {
        let stamp = std::fs::read_to_string(dictionary.join(SOURCE_STAMP)).unwrap_or_default();
        if !stamp.lines().any(|line| line == builder_line()) {
            return Err(JapaneseError::Missing {
                path: dictionary.to_owned(),
            });
        }
        let system = SystemDictionaryConfig::File(dictionary.to_owned())
            .load()
            .map_err(|e| JapaneseError::Load {
                path: dictionary.to_owned(),
                reason: e.to_string(),
            })?;
        let text = std::fs::read_to_string(word_list).map_err(|source| JapaneseError::Words {
            path: word_list.to_owned(),
            source,
        })?;
        let words: HashSet<String> = text
            .lines()
            .map(str::trim)
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect();
        let longest_word = words.iter().map(|w| w.chars().count()).max().unwrap_or(0);
        Ok(Japanese {
            frontend: JPreprocess::with_dictionaries(system, None),
            words,
            longest_word,
        })
    }

    /// Text → misaki phonemes, each word (a ja_words group) named by its written form.
    pub fn phonemize(&self, text: &str) -> Phonemized {
        let words = self.words_of(text);
        let tokens = romaji_tokens(&words);
        assemble(&tokens)
    }

    /// The written forms of the words `text` is read as, in order: what a clause is expected
    /// to sound like, for aligning word timings.
    pub fn word_texts(&self, text: &str) -> Vec<String> {
        self.phonemize(text)
            .words
            .into_iter()
            .map(|w| w.text)
            .collect()
    }

    /// OpenJTalk's words (numbers already read), grouped as misaki groups UniDic's.
    fn words_of(&self, text: &str) -> Vec<Word> {
        let text = normalize(text);
        let Ok(mut njd) = self.frontend.text_to_njd(&text) else {
            return Vec::new();
        };
        njd.preprocess();
        let mut nodes: Vec<Word> = Vec::new();
        for node in &njd.nodes {
            // Spaces are no words (MeCab skips them); one may cling to a symbol.
            let surface = node.get_string().trim();
            if surface.is_empty() {
                continue;
            }
            // Punctuation is read from what is written: OpenJTalk's reading of "。" and "「"
            // is a pause mark, "、".
            let pron = if surface.chars().all(|c| symbol(c).is_some()) {
                String::new()
            } else {
                // Devoiced vowels (’) are OpenJTalk's; misaki reads every vowel. A word
                // OpenJTalk cannot read at all (a rare kanji) it reads as a pause; cutlet
                // drops it.
                let pron = node.get_pron().to_string().replace('’', "");
                if pron.chars().all(|c| c == '、' || c == '？') {
                    String::new()
                } else {
                    unidic_long_vowels(&pron)
                }
            };
            let known = !pron.is_empty() || surface.chars().all(is_kana);
            let reading = if pron.is_empty() { surface } else { &pron };
            let word = Word {
                surface: surface.to_owned(),
                hira: kata_to_hira(reading),
                known,
            };
            // OpenJTalk reads Latin text letter by letter; a run of letters is one word. It
            // also parts a long vowel from its word ("でしょ" "う" read デショ ー), which
            // UniDic and so misaki keep whole.
            match nodes.last_mut() {
                Some(last) if last.known && word.hira.starts_with('ー') => {
                    last.surface.push_str(&word.surface);
                    last.hira.push_str(&word.hira);
                }
                Some(last) if is_latin(&last.surface) && is_latin(&word.surface) => {
                    last.surface.push_str(&word.surface);
                    last.hira.push_str(&word.hira);
                    last.known &= word.known;
                }
                _ => nodes.push(word),
            }
        }
        self.group(nodes)
    }

    /// cutlet's `_romaji_tokens` grouping: the longest run of words of one kind (known or not)
    /// from here whose written form is one word of misaki's list becomes one word.
    fn group(&self, nodes: Vec<Word>) -> Vec<Word> {
        let mut groups = Vec::new();
        let mut i = 0;
        while i < nodes.len() {
            let end = (i + 1..nodes.len())
                .find(|&z| nodes[z].known != nodes[i].known)
                .unwrap_or(nodes.len());
            let mut candidates = Vec::new();
            let mut joined = String::new();
            for (j, node) in nodes.iter().enumerate().take(end).skip(i) {
                joined.push_str(&node.surface);
                if joined.chars().count() > self.longest_word {
                    break;
                }
                candidates.push((j + 1, joined.clone()));
            }
            let found = candidates
                .into_iter()
                .rev()
                .find(|(_, joined)| self.words.contains(joined))
                .map(|(j, _)| j);
            let j = found.unwrap_or(i + 1);
            let group = &nodes[i..j];
            groups.push(Word {
                surface: group.iter().map(|w| w.surface.as_str()).collect(),
                hira: group.iter().map(|w| w.hira.as_str()).collect(),
                known: group[0].known,
            });
            i = j;
        }
        groups
    }
}

#[derive(Debug, Clone)]
struct Word {
    /// As OpenJTalk read it (its text normaliser makes ASCII full width).
    surface: String,
    /// Its pronunciation in hiragana (long vowels as ー), or the surface where it has none.
    hira: String,
    known: bool,
}

#[derive(Debug)]
struct Token {
    /// The written word, for word timings; empty for punctuation.
    word: Option<String>,
    phonemes: String,
    space: bool,
}

/// cutlet's `_normalize_text` less the digits (OpenJTalk reads numbers itself): a wave dash
/// before a number is "から", then NFKC (full-width Latin to ASCII, half-width kana to full).
fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if matches!(c, '〜' | '～') && chars.get(i + 1).is_some_and(|n| n.is_ascii_digit()) {
            out.push_str("から");
            continue;
        }
        out.push(katakana_extension(c).unwrap_or(c));
    }
    out.nfkc().collect()
}

/// Katakana Phonetic Extensions (small ㇰ for Ainu) as their full-size kana.
fn katakana_extension(c: char) -> Option<char> {
    let full = "クシストヌハヒフヘホムラリルレロ";
    let index = (c as u32).checked_sub(0x31F0)? as usize;
    full.chars().nth(index)
}

/// UniDic, whose readings misaki's output (and so the voices' training) has, writes a vowel
/// said twice in one word as a long vowel where OpenJTalk writes it out: いい イー, 新しい
/// アタラシー, 聞いた キータ. i + イ and u + ウ become ー here as well (OpenJTalk already
/// writes the others, センセー, トーキョー).
fn unidic_long_vowels(pron: &str) -> String {
    let mut out = String::with_capacity(pron.len());
    let mut last_vowel = None;
    for c in pron.chars() {
        let doubled = matches!((last_vowel, c), (Some('i'), 'イ') | (Some('ɯ' | 'ɨ'), 'ウ'));
        if doubled {
            out.push('ー');
        } else {
            out.push(c);
            last_vowel = kana::table(
                kana::kata_to_hira(&c.to_string())
                    .chars()
                    .next()
                    .unwrap_or(c),
            )
            .chars()
            .last();
        }
        if doubled {
            last_vowel = None;
        }
    }
    out
}

/// Latin letters and digits, as OpenJTalk's normaliser writes them (full width) or not.
fn is_latin(s: &str) -> bool {
    s.nfkc().all(|c| c.is_ascii_alphanumeric())
}

/// cutlet's `_romaji_tokens` spacing: a space after each word, none before closing
/// punctuation, one before opening punctuation. Python's `in` on strings is a substring test,
/// kept as such (an empty reading counts as opening punctuation, as in cutlet).
fn romaji_tokens(words: &[Word]) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::new();
    for word in words {
        let roma = romaji_word(word).replace('っ', "");
        let surface = word.surface.as_str();
        let is_punctuation = !roma.is_empty() && roma.chars().all(|c| !c.is_alphabetic());
        let mut token = Token {
            word: (!is_punctuation).then(|| word.surface.clone()),
            phonemes: roma.clone(),
            space: false,
        };
        if "「『«".contains(surface) || "([".contains(roma.as_str()) {
            if let Some(previous) = out.last_mut() {
                previous.space = true;
            }
        } else if "」』»".contains(surface) || "]).,?!:".contains(roma.as_str()) {
            if let Some(previous) = out.last_mut() {
                previous.space = false;
            }
            token.space = true;
        } else {
            token.space = roma != " ";
        }
        out.push(token);
    }
    out
}

/// cutlet's `_romaji_word`: ASCII as written, anything else kana by kana.
fn romaji_word(word: &Word) -> String {
    let surface: String = word.surface.nfkc().collect();
    if surface.is_ascii() {
        // Letters: cutlet passes them through as they are, so "AI" reaches the model as
        // English diphthong symbols and "Tokyo" loses its capital (not in the vocabulary).
        // Here an acronym is spelled as Japanese spells it (OpenJTalk's "エーアイ") and any
        // other word is passed through in lower case.
        if surface.chars().any(|c| c.is_ascii_alphabetic()) {
            let acronym = !surface.chars().any(|c| c.is_ascii_lowercase());
            if acronym && word.known && word.hira.chars().any(is_kana) {
                return kana_word(&word.hira);
            }
            return surface.to_ascii_lowercase();
        }
        // A symbol with a reading ("%" パーセント, a decimal point テン) is read.
        if word.known && word.hira.chars().any(is_kana) {
            return kana_word(&word.hira);
        }
        return surface;
    }
    if !word.known && !word.hira.chars().any(is_kana) {
        // A symbol OpenJTalk does not know is kept if cutlet's table has it; unknown
        // kanji are dropped (cutlet: "silently fail").
        return word
            .surface
            .chars()
            .filter_map(|c| symbol(c).map(str::to_owned))
            .collect();
    }
    kana_word(&word.hira)
}

/// cutlet's `__call__` after the tokens: joined with their spaces, whitespace collapsed,
/// brackets made « » (which the model cannot say: they become silence), no space beside the
/// glottal stop ʔ except next to punctuation, then only the model's symbols. Each word keeps
/// its place in the result.
fn assemble(tokens: &[Token]) -> Phonemized {
    // Every character with the token it came from.
    let mut chars: Vec<(char, Option<usize>)> = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        chars.extend(token.phonemes.chars().map(|c| (c, Some(i))));
        if token.space {
            chars.push((' ', None));
        }
    }
    let collapse = |chars: Vec<(char, Option<usize>)>| {
        let mut out: Vec<(char, Option<usize>)> = Vec::with_capacity(chars.len());
        for (c, owner) in chars {
            if c.is_whitespace() {
                if out.last().is_some_and(|(p, _)| *p != ' ') {
                    out.push((' ', None));
                }
            } else {
                out.push((c, owner));
            }
        }
        while out.last().is_some_and(|(c, _)| *c == ' ') {
            out.pop();
        }
        out
    };
    let chars: Vec<(char, Option<usize>)> = collapse(chars)
        .into_iter()
        .map(|(c, owner)| match c {
            '(' => ('«', owner),
            ')' => ('»', owner),
            c => (c, owner),
        })
        .collect();
    let kept: Vec<(char, Option<usize>)> = chars
        .iter()
        .enumerate()
        .filter(|(i, (c, _))| {
            if *c != ' ' {
                return true;
            }
            let before = i.checked_sub(1).map(|p| chars[p].0);
            let after = chars.get(i + 1).map(|n| n.0);
            let before_stop =
                after == Some('ʔ') && !before.is_some_and(|b| "!\",.:;?»—…”".contains(b));
            let after_stop = before == Some('ʔ') && !after.is_some_and(|a| "\"«“".contains(a));
            !(before_stop || after_stop)
        })
        .map(|(_, c)| *c)
        .filter(|(c, _)| *c == ' ' || VOCAB.contains(*c))
        .collect();
    let kept = collapse(kept);
    let mut phonemes = String::new();
    let mut ranges: Vec<Option<std::ops::Range<usize>>> = vec![None; tokens.len()];
    let mut skip_leading = true;
    let mut count = 0;
    for (c, owner) in kept {
        if skip_leading && c == ' ' {
            continue;
        }
        skip_leading = false;
        phonemes.push(c);
        if let Some(owner) = owner {
            let range = ranges[owner].get_or_insert(count..count);
            range.end = count + 1;
        }
        count += 1;
    }
    let words = tokens
        .iter()
        .zip(ranges)
        .filter_map(|(token, range)| {
            Some(SpokenWord {
                text: token.word.clone()?,
                phonemes: range?,
            })
        })
        .collect();
    Phonemized { phonemes, words }
}
