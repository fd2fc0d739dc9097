//! A part-of-speech guess for the words the misaki lexicon reads differently by tag ("close
//! the door" / "close to", "the wind" / "wind the clock", "I read" / "to read"). misaki asks
//! spaCy's tagger; here a handful of context rules on the neighbouring words decide, which is
//! enough for the lexicon's coarse keys (VERB, NOUN, ADJ and the past forms of "read" and
//! "wound"). What the rules get right is measured by `make bench-g2p` (heteronyms).

/// Penn tags, as misaki's lexicon keys and its parent-tag rule expect them.
pub type Tag = &'static str;

/// After these the next word is a bare verb: "to wind", "will present", "please close".
const BEFORE_VERB: &[&str] = &[
    "to", "will", "would", "can", "could", "shall", "should", "may", "might", "must", "do", "does",
    "did", "don't", "doesn't", "didn't", "won't", "can't", "cannot", "let's", "please", "never",
];
/// A subject pronoun: the next word is its verb ("he lives", "I read").
const SUBJECTS: &[&str] = &["i", "you", "we", "they", "he", "she", "it", "who"];
/// A determiner or possessive: the next word is a noun ("the wind", "a tear").
const DETERMINERS: &[&str] = &[
    "the", "a", "an", "this", "these", "those", "my", "your", "our", "their", "its", "every",
    "each", "no",
];
/// A copula or degree word: the next word is an adjective ("is close", "very close").
const BEFORE_ADJECTIVE: &[&str] = &[
    "is", "are", "was", "were", "be", "been", "am", "very", "so", "too", "quite", "more", "most",
];
/// An object after the first word of a sentence makes that word an imperative verb ("Record
/// your answers", "Tear the paper").
const OBJECT_STARTS: &[&str] = &[
    "the", "a", "an", "your", "my", "his", "her", "our", "their", "this", "that", "these", "those",
    "it", "them", "me", "us", "him", "all", "every",
];

/// The guessed tag of `word` from the word before it (`None` at the start of a clause) and the
/// word after it; `None` when no rule applies, which reads the lexicon's default.
pub fn guess(previous: Option<&str>, word: &str, next: Option<&str>) -> Option<Tag> {
    let is = |list: &[&str], w: Option<&str>| {
        w.is_some_and(|w| list.contains(&w.to_lowercase().as_str()))
    };
    let lower = word.to_lowercase();
    if previous.is_some_and(|p| p.chars().all(|c| c.is_ascii_digit())) {
        return Some("NNS");
    }
    if is(BEFORE_VERB, previous) {
        return Some("VB");
    }
    if is(SUBJECTS, previous) {
        return Some("VBP");
    }
    if is(DETERMINERS, previous) {
        return Some("NN");
    }
    if is(BEFORE_ADJECTIVE, previous) {
        // "was recorded" is a passive verb, "is close" an adjective.
        return Some(if lower.ends_with("ed") { "VBN" } else { "JJ" });
    }
    if previous.is_none() && is(OBJECT_STARTS, next) {
        return Some("VB");
    }
    // An -ed or -ing form is a verb.
    if lower.ends_with("ed") {
        return Some("VBD");
    }
    if lower.ends_with("ing") {
        return Some("VBG");
    }
    None
}

/// misaki's `get_parent_tag`: the coarse key a lexicon entry has when it lacks the fine one.
pub fn parent(tag: Tag) -> Tag {
    if tag.starts_with("VB") {
        "VERB"
    } else if tag.starts_with("NN") {
        "NOUN"
    } else if tag.starts_with("ADV") || tag.starts_with("RB") {
        "ADV"
    } else if tag.starts_with("ADJ") || tag.starts_with("JJ") {
        "ADJ"
    } else {
        tag
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbours_decide_the_tag() {
        assert_eq!(guess(Some("please"), "close", Some("the")), Some("VB"));
        assert_eq!(guess(Some("is"), "close", Some("to")), Some("JJ"));
        assert_eq!(guess(None, "Record", Some("your")), Some("VB"));
        assert_eq!(guess(Some("world"), "record", None), None);
        assert_eq!(guess(Some("I"), "read", Some("the")), Some("VBP"));
        assert_eq!(guess(Some("to"), "read", None), Some("VB"));
        assert_eq!(guess(Some("he"), "lives", Some("in")), Some("VBP"));
        assert_eq!(guess(Some("nine"), "lives", None), None);
        assert_eq!(guess(Some("9"), "lives", None), Some("NNS"));
        assert_eq!(guess(Some("the"), "wind", Some("was")), Some("NN"));
        assert_eq!(guess(None, "recorded", None), Some("VBD"));
        assert_eq!(guess(Some("was"), "recorded", None), Some("VBN"));
        assert_eq!(parent("VBD"), "VERB");
        assert_eq!(parent("NNS"), "NOUN");
        assert_eq!(parent("JJ"), "ADJ");
    }
}
