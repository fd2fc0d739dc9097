//! misaki's US or GB lexicon (`us_gold.json` + `us_silver.json`, or the `gb_` pair) and its
//! word-level lookup rules:
//! case folding, `-s`/`-ed`/`-ing` stems, acronyms spelled out and the context-dependent
//! function words (`the`, `a`, `to`, …). Mirrors `misaki.en.Lexicon` without spaCy's POS tags:
//! where misaki branches on a tag, the comment says which reading is assumed.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use super::G2pError;
use super::pos::{self, Tag};

pub const PRIMARY_STRESS: char = 'ˈ';
pub const SECONDARY_STRESS: char = 'ˌ';
const VOWELS: &str = "AIOQWYaiuæɑɒɔəɛɜɪʊʌᵻ";
const DIPHTHONGS: &str = "AIOQWYʤʧ";
pub const CONSONANTS: &str = "bdfhjklmnpstvwzðŋɡɹɾʃʒʤʧθ";
/// Vowels (and ɹ) after which a US `t` flaps: "waiting" → wˈAɾɪŋ.
const US_TAUS: &str = "AIOWYiuæɑəɛɪɹʊʌ";

pub fn is_vowel(c: char) -> bool {
    VOWELS.contains(c)
}

/// What the neighbouring words tell us about this one; misaki's `TokenContext` plus the tag
/// spaCy would have given the word.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context {
    /// `Some(true)` when the next spoken sound is a vowel, `Some(false)` a consonant, `None`
    /// when a pause (punctuation or end of text) follows.
    pub future_vowel: Option<bool>,
    /// The word's guessed part of speech ([`super::pos`]), which picks among an entry's
    /// readings ("close" VERB klˈOz, default klˈOs).
    pub tag: Option<Tag>,
}

#[derive(Debug, Clone)]
struct Entry {
    default: String,
    /// misaki's `"None"` variant: the stressed form used before a pause ("by." → bˈI).
    before_pause: Option<String>,
    /// Readings by part of speech (`VERB`, `NOUN`, `ADJ`, `VBD`, …).
    tagged: Vec<(String, String)>,
}

impl Entry {
    /// misaki's choice: the exact tag's reading, else its parent's, else the default.
    fn for_tag(&self, tag: Option<Tag>) -> &str {
        let Some(tag) = tag else {
            return &self.default;
        };
        let find = |key: &str| self.tagged.iter().find(|(k, _)| k == key).map(|(_, v)| v);
        find(tag)
            .or_else(|| find(pos::parent(tag)))
            .map_or(&self.default, |v| v)
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawEntry {
    Plain(String),
    Tagged(HashMap<String, Option<String>>),
}

pub struct Lexicon {
    golds: HashMap<String, Entry>,
    silvers: HashMap<String, Entry>,
    /// British English: the GB files and misaki's British suffix rules (no flapped `t`).
    british: bool,
}

fn load_file(path: &Path) -> Result<HashMap<String, Entry>, G2pError> {
    let bytes = std::fs::read(path).map_err(|source| G2pError::Read {
        path: path.to_owned(),
        source,
    })?;
    let raw: HashMap<String, RawEntry> =
        serde_json::from_slice(&bytes).map_err(|source| G2pError::Parse {
            path: path.to_owned(),
            source,
        })?;
    let mut entries = HashMap::with_capacity(raw.len());
    for (word, value) in raw {
        let entry = match value {
            RawEntry::Plain(default) => Entry {
                default,
                before_pause: None,
                tagged: Vec::new(),
            },
            RawEntry::Tagged(mut tags) => {
                let Some(Some(default)) = tags.remove("DEFAULT") else {
                    return Err(G2pError::MissingDefault {
                        path: path.to_owned(),
                        word,
                    });
                };
                let before_pause = tags.remove("None").flatten();
                Entry {
                    default,
                    before_pause,
                    tagged: tags
                        .into_iter()
                        .filter_map(|(tag, ps)| ps.map(|ps| (tag, ps)))
                        .collect(),
                }
            }
        };
        entries.insert(word, entry);
    }
    Ok(grow_dictionary(entries))
}

/// Python's `str.capitalize()`: first character upper-cased, the rest lower-cased.
pub fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first
            .to_uppercase()
            .chain(chars.flat_map(char::to_lowercase))
            .collect(),
        None => String::new(),
    }
}

/// misaki's `grow_dictionary`: "hello" also answers "Hello" and "Paris" also answers "paris",
/// but an entry spelled that way in the file always wins.
fn grow_dictionary(entries: HashMap<String, Entry>) -> HashMap<String, Entry> {
    let mut grown = HashMap::with_capacity(entries.len() * 2);
    for (word, entry) in &entries {
        if word.chars().count() < 2 {
            continue;
        }
        let lower = word.to_lowercase();
        if *word == lower {
            let cap = capitalize(word);
            if cap != *word {
                grown.insert(cap, entry.clone());
            }
        } else if *word == capitalize(&lower) {
            grown.insert(lower, entry.clone());
        }
    }
    grown.extend(entries);
    grown
}

/// misaki's `apply_stress`: `stress` < -1 strips stress, -1/-0.5/0 demote primary to secondary,
/// positive values add or promote stress on words that lack it.
pub fn apply_stress(ps: &str, stress: Option<f32>) -> String {
    let Some(stress) = stress else {
        return ps.to_owned();
    };
    let has_primary = ps.contains(PRIMARY_STRESS);
    let has_any = has_primary || ps.contains(SECONDARY_STRESS);
    let has_vowel = ps.chars().any(is_vowel);
    if stress < -1.0 {
        ps.replace([PRIMARY_STRESS, SECONDARY_STRESS], "")
    } else if stress == -1.0 || ((stress == 0.0 || stress == -0.5) && has_primary) {
        ps.replace(SECONDARY_STRESS, "")
            .replace(PRIMARY_STRESS, &SECONDARY_STRESS.to_string())
    } else if (stress == 0.0 || stress == 0.5 || stress == 1.0) && !has_any {
        if has_vowel {
            stress_first_vowel(ps, SECONDARY_STRESS)
        } else {
            ps.to_owned()
        }
    } else if stress >= 1.0 && !has_primary && has_any {
        ps.replace(SECONDARY_STRESS, &PRIMARY_STRESS.to_string())
    } else if stress > 1.0 && !has_any {
        if has_vowel {
            stress_first_vowel(ps, PRIMARY_STRESS)
        } else {
            ps.to_owned()
        }
    } else {
        ps.to_owned()
    }
}

/// misaki's `restress` for a word without marks: the mark goes right before the first vowel.
fn stress_first_vowel(ps: &str, mark: char) -> String {
    let mut out = String::with_capacity(ps.len() + mark.len_utf8());
    let mut placed = false;
    for c in ps.chars() {
        if !placed && is_vowel(c) {
            out.push(mark);
            placed = true;
        }
        out.push(c);
    }
    out
}

/// Stress weight used to decide which half of a compound keeps its primary stress.
pub fn stress_weight(ps: &str) -> usize {
    ps.chars()
        .map(|c| if DIPHTHONGS.contains(c) { 2 } else { 1 })
        .sum()
}

fn is_lexicon_char(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '\'' || c == '-'
}

fn is_alpha(word: &str) -> bool {
    !word.is_empty() && word.chars().all(char::is_alphabetic)
}

fn tail(word: &str) -> &str {
    word.char_indices().nth(1).map_or("", |(i, _)| &word[i..])
}

/// The weak vowel of `-es` and `-ed`: misaki writes ᵻ for US English, ɪ for British.
fn weak_vowel(british: bool) -> char {
    if british { 'ɪ' } else { 'ᵻ' }
}

/// misaki's `-s` rule (https://en.wiktionary.org/wiki/-s).
fn suffix_s(stem: &str, british: bool) -> Option<String> {
    let last = stem.chars().last()?;
    Some(if "ptkfθ".contains(last) {
        format!("{stem}s")
    } else if "szʃʒʧʤ".contains(last) {
        format!("{stem}{}z", weak_vowel(british))
    } else {
        format!("{stem}z")
    })
}

/// misaki's `-ed` rule (https://en.wiktionary.org/wiki/-ed).
fn suffix_ed(stem: &str, british: bool) -> Option<String> {
    let chars: Vec<char> = stem.chars().collect();
    let last = *chars.last()?;
    Some(if "pkfθʃsʧ".contains(last) {
        format!("{stem}t")
    } else if last == 'd' {
        format!("{stem}{}d", weak_vowel(british))
    } else if last != 't' {
        format!("{stem}d")
    } else if british || chars.len() < 2 {
        format!("{stem}ɪd")
    } else if US_TAUS.contains(chars[chars.len() - 2]) {
        format!("{}ɾᵻd", &stem[..stem.len() - 't'.len_utf8()])
    } else {
        format!("{stem}ᵻd")
    })
}

/// misaki's `-ing` rule (https://en.wiktionary.org/wiki/-ing); British stems ending in a
/// long vowel or schwa are left to the lexicon or eSpeak, as misaki does.
fn suffix_ing(stem: &str, british: bool) -> Option<String> {
    let chars: Vec<char> = stem.chars().collect();
    let last = *chars.last()?;
    if british {
        if "əː".contains(last) {
            return None;
        }
    } else if chars.len() > 1 && last == 't' && US_TAUS.contains(chars[chars.len() - 2]) {
        return Some(format!("{}ɾɪŋ", &stem[..stem.len() - 't'.len_utf8()]));
    }
    Some(format!("{stem}ɪŋ"))
}

impl Lexicon {
    /// misaki's US lexicon, or with `british` its GB one, from `lexicon_dir`.
    pub fn load(lexicon_dir: &Path, british: bool) -> Result<Lexicon, G2pError> {
        let prefix = if british { "gb" } else { "us" };
        Ok(Lexicon {
            golds: load_file(&lexicon_dir.join(format!("{prefix}_gold.json")))?,
            silvers: load_file(&lexicon_dir.join(format!("{prefix}_silver.json")))?,
            british,
        })
    }

    pub fn is_british(&self) -> bool {
        self.british
    }

    fn gold(&self, word: &str) -> Option<&str> {
        self.golds.get(word).map(|e| e.default.as_str())
    }

    fn contains(&self, word: &str) -> bool {
        self.golds.contains_key(word) || self.silvers.contains_key(word)
    }

    /// Letters spelled out one by one with the last letter stressed ("FBI" → ˌɛfbˌiˈI).
    pub fn spell(&self, word: &str) -> Option<String> {
        let mut ps = String::new();
        for c in word.chars().filter(|c| c.is_alphabetic()) {
            ps.push_str(self.gold(&c.to_uppercase().to_string())?);
        }
        let ps = apply_stress(&ps, Some(0.0));
        Some(match ps.rfind(SECONDARY_STRESS) {
            Some(i) => format!(
                "{}{PRIMARY_STRESS}{}",
                &ps[..i],
                &ps[i + SECONDARY_STRESS.len_utf8()..]
            ),
            None => ps,
        })
    }

    /// misaki's `get_special_case`, with the POS tag replaced by `followed_by_word` where the
    /// reading depends on it.
    fn special_case(
        &self,
        word: &str,
        stress: Option<f32>,
        ctx: Context,
        followed_by_word: bool,
    ) -> Option<String> {
        let stripped = word.trim_matches('.');
        let undotted = word.replace('.', "");
        if stripped.contains('.')
            && is_alpha(&undotted)
            && word
                .split('.')
                .map(|p| p.chars().count())
                .max()
                .unwrap_or(0)
                < 3
        {
            return self.spell(word);
        }
        match word {
            // misaki: 'ɐ' when tagged DT; a following word is our stand-in for the determiner.
            "a" | "A" => Some(if followed_by_word { "ɐ" } else { "ˈA" }.to_owned()),
            "am" | "Am" | "AM" => {
                let unstressed =
                    ctx.future_vowel.is_some() && word == "am" && !stress.is_some_and(|s| s > 0.0);
                if unstressed {
                    Some("ɐm".to_owned())
                } else {
                    self.gold("am").map(str::to_owned)
                }
            }
            "an" | "An" | "AN" => Some("ɐn".to_owned()),
            // misaki requires the PRP tag; the pronoun is by far the common reading.
            "I" => Some(format!("{SECONDARY_STRESS}I")),
            "to" | "To" | "TO" => match ctx.future_vowel {
                None => self.gold("to").map(str::to_owned),
                Some(false) => Some("tə".to_owned()),
                Some(true) => Some("tʊ".to_owned()),
            },
            // misaki stresses "in" unless it is a preposition followed by more speech; we assume
            // the preposition.
            "in" | "In" | "IN" => Some(if ctx.future_vowel.is_none() {
                format!("{PRIMARY_STRESS}ɪn")
            } else {
                "ɪn".to_owned()
            }),
            "the" | "The" | "THE" => Some(
                if ctx.future_vowel == Some(true) {
                    "ði"
                } else {
                    "ðə"
                }
                .to_owned(),
            ),
            "vs" | "vs." | "Vs" | "Vs." | "VS" | "VS." => self.lookup("versus", None, ctx),
            _ => None,
        }
    }

    fn lookup(&self, word: &str, stress: Option<f32>, ctx: Context) -> Option<String> {
        let lowered;
        let mut word = word;
        if word == word.to_uppercase() && !self.golds.contains_key(word) {
            lowered = word.to_lowercase();
            word = &lowered;
        }
        let entry = self.golds.get(word).or_else(|| self.silvers.get(word));
        let ps = match entry {
            Some(entry) => match (&entry.before_pause, ctx.future_vowel) {
                (Some(before_pause), None) => before_pause.as_str(),
                _ => entry.for_tag(ctx.tag),
            },
            None => return self.spell(word),
        };
        Some(apply_stress(ps, stress))
    }

    fn is_known(&self, word: &str) -> bool {
        if self.contains(word) {
            return true;
        }
        if !is_alpha(word) || !word.chars().all(is_lexicon_char) {
            return false;
        }
        if word.chars().count() == 1 {
            return true;
        }
        if word == word.to_uppercase() && self.golds.contains_key(&word.to_lowercase()) {
            return true;
        }
        let rest = tail(word);
        rest == rest.to_uppercase()
    }

    fn stem_s(&self, word: &str, stress: Option<f32>, ctx: Context) -> Option<String> {
        if word.chars().count() < 3 || !word.ends_with('s') {
            return None;
        }
        let len = word.chars().count();
        let stem = if !word.ends_with("ss") && self.is_known(&word[..word.len() - 1]) {
            word[..word.len() - 1].to_owned()
        } else if (word.ends_with("'s")
            || (len > 4 && word.ends_with("es") && !word.ends_with("ies")))
            && self.is_known(&word[..word.len() - 2])
        {
            word[..word.len() - 2].to_owned()
        } else if len > 4 && word.ends_with("ies") && {
            let y_stem = format!("{}y", &word[..word.len() - 3]);
            self.is_known(&y_stem)
        } {
            format!("{}y", &word[..word.len() - 3])
        } else {
            return None;
        };
        suffix_s(&self.lookup(&stem, stress, ctx)?, self.british)
    }

    fn stem_ed(&self, word: &str, stress: Option<f32>, ctx: Context) -> Option<String> {
        let len = word.chars().count();
        if len < 4 || !word.ends_with('d') {
            return None;
        }
        let stem = if !word.ends_with("dd") && self.is_known(&word[..word.len() - 1]) {
            &word[..word.len() - 1]
        } else if len > 4
            && word.ends_with("ed")
            && !word.ends_with("eed")
            && self.is_known(&word[..word.len() - 2])
        {
            &word[..word.len() - 2]
        } else {
            return None;
        };
        suffix_ed(&self.lookup(stem, stress, ctx)?, self.british)
    }

    fn stem_ing(&self, word: &str, stress: Option<f32>, ctx: Context) -> Option<String> {
        let len = word.chars().count();
        if len < 5 || !word.ends_with("ing") {
            return None;
        }
        let base = &word[..word.len() - 3];
        let doubled = {
            // misaki: `([bcdgklmnprstvxz])\1ing$|cking$` ("running" → "run").
            let b: Vec<char> = base.chars().collect();
            let n = b.len();
            (n >= 2 && b[n - 1] == b[n - 2] && "bcdgklmnprstvxz".contains(b[n - 1]))
                || word.ends_with("cking")
        };
        let stem = if len > 5 && self.is_known(base) {
            base.to_owned()
        } else if self.is_known(&format!("{base}e")) {
            format!("{base}e")
        } else if len > 5 && doubled && self.is_known(&word[..word.len() - 4]) {
            word[..word.len() - 4].to_owned()
        } else {
            return None;
        };
        suffix_ing(&self.lookup(&stem, stress, ctx)?, self.british)
    }

    /// misaki's `Lexicon.__call__` + `get_word` for one word (letters, apostrophes, dots),
    /// or `None` when the word needs the eSpeak fallback.
    pub fn word(&self, word: &str, ctx: Context, followed_by_word: bool) -> Option<String> {
        let lower = word.to_lowercase();
        // misaki's `cap_stresses`: capitalised words get at least secondary stress, all-caps
        // words primary.
        let stress = if word == lower {
            None
        } else if word == word.to_uppercase() {
            Some(2.0)
        } else {
            Some(0.5)
        };
        if let Some(ps) = self.special_case(word, stress, ctx, followed_by_word) {
            return Some(ps);
        }
        let rest = tail(word);
        let use_lower = word.chars().count() > 1
            && is_alpha(&word.replace('\'', ""))
            && word != lower
            && !self.contains(word)
            && (word == word.to_uppercase() || rest == rest.to_lowercase())
            && (self.contains(&lower)
                || self.stem_s(&lower, stress, ctx).is_some()
                || self.stem_ed(&lower, stress, ctx).is_some()
                || self.stem_ing(&lower, stress, ctx).is_some());
        let word = if use_lower { lower.as_str() } else { word };
        if self.is_known(word) {
            return self.lookup(word, stress, ctx);
        }
        if let Some(stem) = word.strip_suffix("s'") {
            let possessive = format!("{stem}'s");
            if self.is_known(&possessive) {
                return self.lookup(&possessive, stress, ctx);
            }
        }
        if let Some(stem) = word.strip_suffix('\'')
            && self.is_known(stem)
        {
            return self.lookup(stem, stress, ctx);
        }
        self.stem_s(word, stress, ctx)
            .or_else(|| self.stem_ed(word, stress, ctx))
            .or_else(|| self.stem_ing(word, Some(stress.unwrap_or(0.5)), ctx))
            .or_else(|| self.contraction(word, ctx))
    }

    /// Contractions the lexicon lacks as a whole ("Zorblax'll") when their stem is known;
    /// spaCy splits these off for misaki, we re-attach the clitic here.
    fn contraction(&self, word: &str, ctx: Context) -> Option<String> {
        const CLITICS: [(&str, &str); 5] = [
            ("'ll", "əl"),
            ("'d", "d"),
            ("'re", "əɹ"),
            ("'ve", "v"),
            ("'m", "m"),
        ];
        let lower = word.to_lowercase();
        CLITICS.iter().find_map(|(clitic, ps)| {
            let stem = word.get(..word.len().checked_sub(clitic.len())?)?;
            if !lower.ends_with(clitic) || stem.is_empty() || stem.contains('\'') {
                return None;
            }
            Some(format!("{}{ps}", self.word(stem, ctx, false)?))
        })
    }
}
