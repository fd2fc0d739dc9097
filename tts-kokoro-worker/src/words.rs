//! Word timings: when each written word of a request is spoken.
//!
//! The model predicts how many frames each phoneme token lasts; the G2P says which tokens make
//! each spoken word; this module says which written word each spoken word belongs to. That is
//! not one to one: normalisation reads "1897" as "eighteen ninety-seven" and "$5" as "five
//! dollars". Each written word is normalised alone to learn what it should sound like, and the
//! spoken words of the whole text are aligned against that by edit distance, so a reading that
//! differs in context (an abbreviation read otherwise beside its neighbour) still lands on the
//! right written word.

use std::ops::Range;

use crate::g2p::SpokenWord;

/// A word of the text as written: a run of non-space characters less the punctuation around
/// it, holding at least one character that is not punctuation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenWord {
    /// Its place in the text, in Unicode scalar values.
    pub chars: Range<usize>,
    pub text: String,
}

/// When one written word is spoken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WordTiming {
    /// Its place in the text, in Unicode scalar values.
    pub chars: Range<usize>,
    pub text: String,
    /// Its audio, in samples from the start of the audio it was timed against.
    pub samples: Range<u64>,
}

/// Punctuation trimmed from the edges of a written word ("(hello," → "hello").
fn is_edge_punctuation(c: char) -> bool {
    (c.is_ascii_punctuation() && !matches!(c, '$' | '%' | '&' | '#' | '@' | '+' | '='))
        || matches!(
            c,
            '“' | '”'
                | '‘'
                | '’'
                | '«'
                | '»'
                | '—'
                | '–'
                | '…'
                | '¡'
                | '¿'
                | '，'
                | '。'
                | '、'
        )
}

/// Chinese and Japanese write no spaces: their full-width punctuation parts words instead, so
/// each clause is one "word".
fn is_separator(c: char) -> bool {
    c.is_whitespace() || "，。！？、：；「」『』（）".contains(c)
}

/// The written words of `text`, in order.
pub fn written_words(text: &str) -> Vec<WrittenWord> {
    let chars: Vec<char> = text.chars().collect();
    let mut words = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if is_separator(chars[i]) {
            i += 1;
            continue;
        }
        let run_start = i;
        while i < chars.len() && !is_separator(chars[i]) {
            i += 1;
        }
        let (mut start, mut end) = (run_start, i);
        while start < end && is_edge_punctuation(chars[start]) {
            start += 1;
        }
        while end > start && is_edge_punctuation(chars[end - 1]) {
            end -= 1;
        }
        if start < end {
            words.push(WrittenWord {
                chars: start..end,
                text: chars[start..end].iter().collect(),
            });
        }
    }
    words
}

/// Which written word each spoken word belongs to (an index into `written`), in order and never
/// going back. `expected` gives what a written word sounds like (its normalised words, lower
/// case); it is only asked when the spoken words name themselves.
pub fn assign(
    written: &[WrittenWord],
    spoken: &[SpokenWord],
    expected: impl Fn(&str) -> Vec<String>,
) -> Vec<usize> {
    if written.is_empty() || spoken.is_empty() {
        return vec![0; spoken.len()];
    }
    if spoken.iter().all(|w| w.text.is_empty()) {
        return proportional(written.len(), spoken.len());
    }
    let mut reference: Vec<(String, usize)> = Vec::new();
    for (index, word) in written.iter().enumerate() {
        for sound in expected(&word.text) {
            reference.push((sound, index));
        }
    }
    if reference.is_empty() {
        return proportional(written.len(), spoken.len());
    }
    // Edit distance between the spoken words and the expected ones; a substitution keeps the
    // expected word's owner, an inserted spoken word joins the written word before it.
    let (n, m) = (spoken.len(), reference.len());
    let mut cost = vec![vec![0u32; m + 1]; n + 1];
    for (i, row) in cost.iter_mut().enumerate() {
        row[0] = i as u32;
    }
    for (j, cell) in cost[0].iter_mut().enumerate() {
        *cell = j as u32;
    }
    for i in 1..=n {
        for j in 1..=m {
            let same = u32::from(spoken[i - 1].text != reference[j - 1].0);
            cost[i][j] = (cost[i - 1][j - 1] + same)
                .min(cost[i - 1][j] + 1)
                .min(cost[i][j - 1] + 1);
        }
    }
    let mut owner: Vec<Option<usize>> = vec![None; n];
    let (mut i, mut j) = (n, m);
    while i > 0 {
        let same = j > 0
            && cost[i][j]
                == cost[i - 1][j - 1] + u32::from(spoken[i - 1].text != reference[j - 1].0);
        if same {
            owner[i - 1] = Some(reference[j - 1].1);
            i -= 1;
            j -= 1;
        } else if j > 0 && cost[i][j] == cost[i][j - 1] + 1 {
            j -= 1;
        } else {
            // Spoken but not expected: owned by a neighbour, filled in below.
            i -= 1;
        }
    }
    let first_known = owner.iter().flatten().next().copied().unwrap_or(0);
    let mut last = first_known;
    owner
        .into_iter()
        .map(|o| {
            last = o.unwrap_or(last).max(last);
            last
        })
        .collect()
}

/// `spoken` words spread evenly over `written` ones, in order.
fn proportional(written: usize, spoken: usize) -> Vec<usize> {
    (0..spoken).map(|i| i * written / spoken).collect()
}

/// The character ranges of `phonemes` mapped to ranges of the token ids `encodes` keeps (it
/// says whether the model knows a symbol).
pub fn token_ranges(
    phonemes: &str,
    spoken: &[SpokenWord],
    encodes: impl Fn(char) -> bool,
) -> Vec<Range<usize>> {
    let mut ids_before = Vec::with_capacity(phonemes.len() + 1);
    let mut count = 0;
    for c in phonemes.chars() {
        ids_before.push(count);
        count += usize::from(encodes(c));
    }
    ids_before.push(count);
    let at = |i: usize| ids_before.get(i).copied().unwrap_or(count);
    spoken
        .iter()
        .map(|w| at(w.phonemes.start)..at(w.phonemes.end))
        .collect()
}

/// One utterance's written words with the token ids each is spoken with (`None`: nothing of it
/// was heard, e.g. a symbol the G2P dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WordTokens {
    pub word: WrittenWord,
    pub tokens: Option<Range<usize>>,
}

/// Joins the spoken words' token ranges by the written word that owns them.
pub fn word_tokens(
    written: Vec<WrittenWord>,
    tokens: &[Range<usize>],
    owners: &[usize],
) -> Vec<WordTokens> {
    let mut out: Vec<WordTokens> = written
        .into_iter()
        .map(|word| WordTokens { word, tokens: None })
        .collect();
    for (range, &owner) in tokens.iter().zip(owners) {
        if range.is_empty() {
            continue;
        }
        if let Some(entry) = out.get_mut(owner) {
            entry.tokens = Some(match entry.tokens.take() {
                Some(r) => r.start.min(range.start)..r.end.max(range.end),
                None => range.clone(),
            });
        }
    }
    out
}

/// Times the words of one utterance from the model's durations (frames per token, the pad
/// tokens first and last included, as [`crate::model::Inference::durations`]): each word lasts
/// from its first token's start to its last token's end, in the model's output samples. A word
/// nothing of which was heard gets the gap where it stands, so every word has a time and times
/// never go back.
pub fn time_words(
    words: &[WordTokens],
    durations: &[u32],
    samples_per_frame: u64,
) -> Vec<WordTiming> {
    if durations.is_empty() {
        return Vec::new();
    }
    // starts[k] = first frame of token k of the padded sequence; the phoneme id i is k = i + 1.
    let mut starts = Vec::with_capacity(durations.len() + 1);
    let mut frame = 0u64;
    for &d in durations {
        starts.push(frame);
        frame += u64::from(d);
    }
    starts.push(frame);
    let total = frame * samples_per_frame;
    let at = |token: usize| starts[(token + 1).min(starts.len() - 1)] * samples_per_frame;
    let mut timings: Vec<WordTiming> = Vec::with_capacity(words.len());
    let mut cursor = at(0);
    for (i, w) in words.iter().enumerate() {
        let samples = match &w.tokens {
            Some(r) => at(r.start).max(cursor)..at(r.end).max(cursor),
            None => {
                let next = words[i + 1..]
                    .iter()
                    .find_map(|n| n.tokens.as_ref())
                    .map_or(total, |r| at(r.start));
                cursor..next.max(cursor)
            }
        };
        cursor = samples.end;
        timings.push(WordTiming {
            chars: w.word.chars.clone(),
            text: w.word.text.clone(),
            samples,
        });
    }
    timings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spoken(words: &[(&str, Range<usize>)]) -> Vec<SpokenWord> {
        words
            .iter()
            .map(|(text, r)| SpokenWord {
                text: text.to_string(),
                phonemes: r.clone(),
            })
            .collect()
    }

    fn expected(word: &str) -> Vec<String> {
        match word {
            "1897" => vec!["eighteen".into(), "ninety-seven".into()],
            "$5" => vec!["five".into(), "dollars".into()],
            w => vec![w.to_lowercase()],
        }
    }

    #[test]
    fn written_words_lose_their_punctuation_and_keep_their_place() {
        let words = written_words("“Hello,” she said — in 1897… (¿qué?) $5 don't");
        let texts: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(
            texts,
            ["Hello", "she", "said", "in", "1897", "qué", "$5", "don't"]
        );
        assert_eq!(words[0].chars, 1..6);
        let text: Vec<char> = "“Hello,” she said — in 1897… (¿qué?) $5 don't"
            .chars()
            .collect();
        for w in &words {
            assert_eq!(text[w.chars.clone()].iter().collect::<String>(), w.text);
        }
    }

    #[test]
    fn text_without_spaces_is_parted_at_its_full_width_punctuation() {
        let texts: Vec<String> = written_words("你好，世界。今天很好！")
            .into_iter()
            .map(|w| w.text)
            .collect();
        assert_eq!(texts, ["你好", "世界", "今天很好"]);
    }

    #[test]
    fn expanded_words_map_back_to_the_one_written_word() {
        let written = written_words("In 1897 it cost $5.");
        let sounds = spoken(&[
            ("in", 0..2),
            ("eighteen", 3..9),
            ("ninety-seven", 10..18),
            ("it", 19..21),
            ("cost", 22..26),
            ("five", 27..31),
            ("dollars", 32..38),
        ]);
        assert_eq!(assign(&written, &sounds, expected), [0, 1, 1, 2, 3, 4, 4]);
    }

    #[test]
    fn a_reading_that_differs_in_context_still_lands_in_order() {
        // "St." read as "saint" in context but "street" alone; an extra spoken word joins its
        // neighbour and nothing goes back.
        let written = written_words("St. Paul um rocks");
        let sounds = spoken(&[
            ("saint", 0..1),
            ("paul", 2..3),
            ("uh", 4..5),
            ("erm", 6..7),
            ("rocks", 8..9),
        ]);
        let owners = assign(&written, &sounds, |w| match w {
            "St" => vec!["street".into()],
            w => vec![w.to_lowercase()],
        });
        assert_eq!(owners[..2], [0, 1]);
        assert!(matches!(owners[2], 1 | 2), "{owners:?}");
        assert_eq!(owners[3..], [2, 3]);
    }

    #[test]
    fn unnamed_groups_spread_over_the_written_words() {
        let written = written_words("uno dos tres");
        let sounds = spoken(&[("", 0..1), ("", 2..3), ("", 4..5)]);
        assert_eq!(assign(&written, &sounds, expected), [0, 1, 2]);
        let six = spoken(&vec![("", 0..1); 6]);
        assert_eq!(assign(&written, &six, expected), [0, 0, 1, 1, 2, 2]);
    }

    #[test]
    fn token_ranges_skip_symbols_the_model_drops() {
        let sounds = spoken(&[("a", 0..2), ("b", 3..5)]);
        // '#' is not in the vocabulary: the second word's tokens start one earlier.
        assert_eq!(token_ranges("a# bc", &sounds, |c| c != '#'), [0..1, 2..4]);
    }

    #[test]
    fn times_come_from_the_durations_and_cover_every_word() {
        // Tokens: pad, h, i, ' ', y, o, pad → durations in frames.
        let durations = [3, 2, 2, 1, 4, 4, 2];
        let written = written_words("hi — ¡yo! ©");
        assert_eq!(written.len(), 3, "{written:?}");
        let words = word_tokens(written, &[0..2, 3..5], &[0, 1]);
        let timings = time_words(&words, &durations, 10);
        let samples: Vec<Range<u64>> = timings.iter().map(|t| t.samples.clone()).collect();
        // "hi" from frame 3 to 7, "yo" from 8 to 16, "©" (never heard) the rest: 16 to 18.
        assert_eq!(samples, [30..70, 80..160, 160..180]);
        assert_eq!(timings[1].text, "yo");
        assert!(time_words(&words, &[], 10).is_empty());
    }
}
