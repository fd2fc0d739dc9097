//! Splits a request's text into utterances for the model. The first utterance is deliberately
//! short (about a clause) so the first audio leaves fast; each later one may be twice as long as
//! the one before, up to `max_chunk_chars`, because it only has to be ready before the audio
//! ahead of it has finished playing, and longer utterances give better prosody and throughput.
//! Cuts prefer paragraph and sentence ends, then clause boundaries, then any word boundary.

/// How strongly the text breaks after a word; the pause inserted there follows from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Boundary {
    /// Inside a word that was too long to keep whole.
    None,
    Word,
    Clause,
    Sentence,
    Paragraph,
}

impl Boundary {
    /// Silence after an utterance that ends here, at speed 1.0. Measured by ear against the
    /// model's own pauses inside one utterance: a sentence end there is about 300 ms.
    pub fn pause_ms(self) -> u32 {
        match self {
            Boundary::None => 0,
            Boundary::Word => 40,
            Boundary::Clause => 160,
            Boundary::Sentence => 300,
            Boundary::Paragraph => 550,
        }
    }
}

/// A piece of the request's text to synthesize as one utterance.
#[derive(Debug, Clone, PartialEq)]
pub struct TextChunk {
    pub text: String,
    /// How the text breaks after this chunk (the last chunk of a request ends with `Paragraph`
    /// or `Sentence` as its text does).
    pub boundary: Boundary,
}

#[derive(Debug, Clone, Copy)]
pub struct ChunkPlan {
    /// Budget of the first chunk, in characters.
    pub first_chunk_chars: usize,
    /// Budget no chunk exceeds (a single word longer than this is cut into pieces).
    pub max_chunk_chars: usize,
}

/// Default first-utterance budget: about a clause, which renders in about a second on 2 cores.
pub const DEFAULT_FIRST_CHUNK_CHARS: usize = 60;
/// Default utterance budget; well inside the model's 510 phoneme tokens for ordinary prose.
pub const DEFAULT_MAX_CHUNK_CHARS: usize = 400;

impl Default for ChunkPlan {
    fn default() -> Self {
        Self {
            first_chunk_chars: DEFAULT_FIRST_CHUNK_CHARS,
            max_chunk_chars: DEFAULT_MAX_CHUNK_CHARS,
        }
    }
}

/// Abbreviations after which a period does not end a sentence.
const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "e.g", "i.e", "mt", "no", "fig",
    "approx", "dept", "est", "inc", "ltd", "co", "corp", "gen", "gov", "sen", "rep", "rev", "capt",
    "lt", "col",
];

#[derive(Debug)]
struct Word<'a> {
    text: &'a str,
    boundary: Boundary,
}

impl ChunkPlan {
    pub fn split(&self, text: &str) -> Vec<TextChunk> {
        let max = self.max_chunk_chars.max(8);
        let first = self.first_chunk_chars.clamp(8, max);
        let words = words(text, max);
        let mut chunks = Vec::new();
        let mut start = 0;
        let mut budget = first;
        while start < words.len() {
            let end = cut(&words[start..], budget) + start;
            let taken = &words[start..end];
            let text = taken
                .iter()
                .enumerate()
                .map(|(i, w)| {
                    // Pieces of one over-long word are joined back without a space.
                    if i > 0 && taken[i - 1].boundary == Boundary::None {
                        w.text.to_string()
                    } else if i > 0 {
                        format!(" {}", w.text)
                    } else {
                        w.text.to_string()
                    }
                })
                .collect::<String>();
            chunks.push(TextChunk {
                text,
                boundary: taken[taken.len() - 1].boundary,
            });
            start = end;
            budget = (budget * 2).min(max);
        }
        chunks
    }
}

/// How many of `words` the next chunk takes: as many as fit in `budget`, cut back to the last
/// sentence end past the first fifth of the budget, else to the last clause boundary past the
/// first three tenths.
fn cut(words: &[Word], budget: usize) -> usize {
    let mut len = 0;
    let mut fit = 0;
    for (i, word) in words.iter().enumerate() {
        let add = word.text.chars().count() + usize::from(i > 0);
        if i > 0 && len + add > budget {
            break;
        }
        len += add;
        fit = i + 1;
    }
    if fit == words.len() {
        return fit;
    }
    let mut best = (Boundary::None, fit);
    let mut offset = 0;
    for (i, word) in words[..fit].iter().enumerate() {
        offset += word.text.chars().count() + usize::from(i > 0);
        let strong_enough = match word.boundary {
            Boundary::Sentence | Boundary::Paragraph => offset * 5 >= budget,
            Boundary::Clause => offset * 10 >= budget * 3,
            _ => false,
        };
        if strong_enough && word.boundary >= best.0 {
            best = (word.boundary, i + 1);
        }
    }
    if best.0 == Boundary::None {
        fit
    } else {
        best.1
    }
}

fn words(text: &str, max_word_chars: usize) -> Vec<Word<'_>> {
    let mut words: Vec<Word> = Vec::new();
    let mut rest = text;
    loop {
        let trimmed = rest.trim_start();
        let gap = &rest[..rest.len() - trimmed.len()];
        if let Some(last) = words.last_mut() {
            let newlines = gap.matches('\n').count();
            if newlines >= 2 {
                last.boundary = Boundary::Paragraph;
            } else if newlines == 1 {
                last.boundary = last.boundary.max(Boundary::Sentence);
            }
        }
        if trimmed.is_empty() {
            break;
        }
        let end = trimmed.find(char::is_whitespace).unwrap_or(trimmed.len());
        // Chinese and Japanese put no spaces between sentences: their full-width punctuation
        // ends a "word", so a long paragraph is still cut at its sentences and clauses.
        let end = trimmed[..end]
            .char_indices()
            .find(|(i, c)| FULL_WIDTH_BREAKS.contains(*c) && i + c.len_utf8() < end)
            .map_or(end, |(i, c)| i + c.len_utf8());
        let word = &trimmed[..end];
        rest = &trimmed[end..];
        let next_starts_sentence = rest
            .trim_start()
            .chars()
            .next()
            .is_none_or(|c| !c.is_lowercase());
        let boundary = boundary_after(word, next_starts_sentence);
        push_word(&mut words, word, boundary, max_word_chars);
    }
    if let Some(last) = words.last_mut() {
        last.boundary = last.boundary.max(Boundary::Sentence);
    }
    words
}

/// A word longer than a whole chunk (a pasted hash, a 20,000-letter joke) is cut in pieces so no
/// chunk can exceed its budget.
fn push_word<'a>(words: &mut Vec<Word<'a>>, word: &'a str, boundary: Boundary, max: usize) {
    let mut rest = word;
    while rest.chars().count() > max {
        let split = rest.char_indices().nth(max).map_or(rest.len(), |(i, _)| i);
        words.push(Word {
            text: &rest[..split],
            boundary: Boundary::None,
        });
        rest = &rest[split..];
    }
    words.push(Word {
        text: rest,
        boundary,
    });
}

/// Full-width sentence and clause marks of Chinese and Japanese text.
const FULL_WIDTH_BREAKS: &str = "。！？，、；：";

fn boundary_after(word: &str, next_starts_sentence: bool) -> Boundary {
    let core = word.trim_end_matches(['"', '\'', ')', ']', '”', '’', '»']);
    let Some(last) = core.chars().last() else {
        return Boundary::Word;
    };
    match last {
        '!' | '?' | '…' | '。' | '！' | '？' => Boundary::Sentence,
        '，' | '、' | '；' | '：' => Boundary::Clause,
        '.' => {
            let stem = core
                .trim_end_matches('.')
                .trim_start_matches(['"', '(', '“', '\'']);
            let abbreviation = ABBREVIATIONS.contains(&stem.to_lowercase().as_str())
                || (stem.chars().count() == 1 && stem.chars().all(char::is_uppercase));
            if next_starts_sentence && !abbreviation {
                Boundary::Sentence
            } else {
                Boundary::Word
            }
        }
        ',' | ';' | ':' | '—' | '–' => Boundary::Clause,
        '-' if core.chars().count() == 1 => Boundary::Clause,
        _ => Boundary::Word,
    }
}

/// Cuts a chunk in two at its strongest boundary nearest the middle, for an utterance whose
/// phonemes came out over the model's token limit.
pub fn halve(chunk: &TextChunk) -> (TextChunk, TextChunk) {
    let words = words(&chunk.text, usize::MAX);
    if words.len() < 2 {
        let chars: Vec<char> = chunk.text.chars().collect();
        let mid = chars.len() / 2;
        return (
            TextChunk {
                text: chars[..mid].iter().collect(),
                boundary: Boundary::None,
            },
            TextChunk {
                text: chars[mid..].iter().collect(),
                boundary: chunk.boundary,
            },
        );
    }
    let total: usize = words.iter().map(|w| w.text.len() + 1).sum();
    let mut offset = 0;
    let mut best = (0usize, Boundary::None, usize::MAX);
    for (i, word) in words[..words.len() - 1].iter().enumerate() {
        offset += word.text.len() + 1;
        let distance = offset.abs_diff(total / 2);
        // Stronger boundaries win unless much further from the middle.
        let penalty = match word.boundary {
            Boundary::Sentence | Boundary::Paragraph => 0,
            Boundary::Clause => total / 8,
            Boundary::Word => total / 4,
            Boundary::None => total / 2,
        };
        let score = distance + penalty;
        if score < best.2 {
            best = (i + 1, word.boundary, score);
        }
    }
    let join = |ws: &[Word]| ws.iter().map(|w| w.text).collect::<Vec<_>>().join(" ");
    (
        TextChunk {
            text: join(&words[..best.0]),
            boundary: best.1,
        },
        TextChunk {
            text: join(&words[best.0..]),
            boundary: chunk.boundary,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARTICLE: &str = "The lighthouse keeper climbed the stairs every evening, counting each step as \
        his father had taught him. There were one hundred and twelve of them. At the top, he trimmed \
        the wick, polished the great lens, and watched the ships pass in the dark; some were fishing \
        boats, others were freighters bound for distant ports.\n\nDr. Hale visited in the spring. \
        She asked whether he was lonely, and he laughed: the sea, he said, was never quiet enough \
        for that.";

    fn plan() -> ChunkPlan {
        ChunkPlan {
            first_chunk_chars: 60,
            max_chunk_chars: 200,
        }
    }

    #[test]
    fn chunks_keep_every_word_in_order() {
        let chunks = plan().split(ARTICLE);
        let rejoined: Vec<String> = chunks
            .iter()
            .flat_map(|c| {
                c.text
                    .split_whitespace()
                    .map(String::from)
                    .collect::<Vec<_>>()
            })
            .collect();
        let original: Vec<String> = ARTICLE.split_whitespace().map(String::from).collect();
        assert_eq!(rejoined, original);
    }

    #[test]
    fn first_chunk_is_a_short_clause_and_later_chunks_grow() {
        let chunks = plan().split(ARTICLE);
        assert_eq!(
            chunks[0].text,
            "The lighthouse keeper climbed the stairs every evening,"
        );
        assert_eq!(chunks[0].boundary, Boundary::Clause);
        assert!(chunks.len() >= 3, "{chunks:#?}");
        assert!(chunks[1].text.len() > chunks[0].text.len(), "{chunks:#?}");
        for chunk in &chunks {
            assert!(chunk.text.chars().count() <= 200, "{chunk:?}");
        }
    }

    #[test]
    fn later_chunks_end_at_sentences_when_one_is_in_reach() {
        let chunks = plan().split(ARTICLE);
        for chunk in &chunks[1..chunks.len() - 1] {
            assert!(
                chunk.boundary >= Boundary::Clause,
                "cut mid-clause: {chunk:?}"
            );
        }
        assert!(
            chunks.iter().any(|c| c.boundary == Boundary::Paragraph),
            "{chunks:#?}"
        );
        assert!(
            chunks.iter().all(|c| !c.text.ends_with("Dr.")),
            "split after an abbreviation: {chunks:#?}"
        );
    }

    #[test]
    fn chinese_is_cut_at_its_full_width_punctuation() {
        let sentence = "灯塔看守人每天傍晚都爬上楼梯，点亮灯塔。";
        let chunks = plan().split(&sentence.repeat(12));
        assert!(chunks.len() > 1);
        for chunk in &chunks[..chunks.len() - 1] {
            assert!(
                chunk.text.ends_with('。') || chunk.text.ends_with('，'),
                "cut inside a clause: {chunk:?}"
            );
            assert!(chunk.boundary >= Boundary::Clause, "{chunk:?}");
        }
        let rejoined: String = chunks.iter().map(|c| c.text.replace(' ', "")).collect();
        assert_eq!(rejoined, sentence.repeat(12));
    }

    #[test]
    fn never_exceeds_the_budget_even_for_a_giant_word() {
        let giant = "a".repeat(20_000);
        let chunks = plan().split(&giant);
        assert!(chunks.iter().all(|c| c.text.chars().count() <= 200));
        assert_eq!(chunks.iter().map(|c| c.text.len()).sum::<usize>(), 20_000);
        let commas = ",".repeat(10_000);
        let chunks = plan().split(&commas);
        assert!(chunks.iter().all(|c| c.text.chars().count() <= 200));
    }

    #[test]
    fn short_text_is_one_chunk_and_blank_text_none() {
        assert_eq!(
            plan().split("Hello there."),
            vec![TextChunk {
                text: "Hello there.".into(),
                boundary: Boundary::Sentence
            }]
        );
        assert!(plan().split("  \n\t ").is_empty());
    }

    #[test]
    fn halving_prefers_a_sentence_end_near_the_middle() {
        let chunk = TextChunk {
            text: "One two three four. Five six seven eight, nine ten.".into(),
            boundary: Boundary::Sentence,
        };
        let (a, b) = halve(&chunk);
        assert_eq!(a.text, "One two three four.");
        assert_eq!(a.boundary, Boundary::Sentence);
        assert_eq!(b.text, "Five six seven eight, nine ten.");
        let (a, b) = halve(&TextChunk {
            text: "abcdef".into(),
            boundary: Boundary::Word,
        });
        assert_eq!((a.text.as_str(), b.text.as_str()), ("abc", "def"));
    }
}
