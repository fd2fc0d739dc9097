//! Inline content model and the splitter that cuts over-long blocks into
//! speakable pieces without breaking their display HTML.
//!
//! Inline content is kept as a flat token list rather than an HTML string so
//! that a cut can be placed at an exact character of the *speech* text and
//! mapped back to the markup: tags open at the cut are closed at the end of
//! one piece and reopened (with the same attributes) at the start of the next.

/// Inline elements nested deeper than this are flattened (their text is
/// kept, their tags dropped). Real documents never come close; the cap keeps
/// adversarial input from producing megabytes of reopened tags per piece.
const MAX_INLINE_DEPTH: usize = 24;

#[derive(Debug, Clone)]
enum Inline {
    /// Text whose display and speech are identical (already whitespace-collapsed).
    Text(String),
    Open {
        tag: &'static str,
        attrs: String,
    },
    Close(&'static str),
    /// Display HTML with its own (possibly empty) speech, never cut inside.
    Atomic {
        html: String,
        speech: String,
    },
}

/// Builder for one block's inline content.
#[derive(Debug, Clone, Default)]
pub(crate) struct InlineBuf {
    items: Vec<Inline>,
    open: Vec<&'static str>,
    skipped_opens: usize,
    /// Whether the speech so far ends in whitespace (or is empty), so that
    /// whitespace is collapsed across item boundaries too.
    trailing_space: bool,
    speech_len: usize,
    /// Images seen, as alt texts, used to classify image-only paragraphs.
    images: Vec<String>,
    /// Position of the first image item, when it is the first content.
    image_first: bool,
}

impl InlineBuf {
    pub(crate) fn new() -> Self {
        Self {
            trailing_space: true,
            ..Self::default()
        }
    }

    pub(crate) fn push_text(&mut self, text: &str) {
        let collapsed = collapse(text, &mut self.trailing_space);
        if collapsed.is_empty() {
            // Whitespace after unspoken content (badge images, a task-list
            // box) still separates things on screen.
            if self.speech_len == 0 && !self.items.is_empty() && !text.is_empty() {
                self.items.push(Inline::Atomic {
                    html: " ".to_owned(),
                    speech: String::new(),
                });
            }
            return;
        }
        self.speech_len += collapsed.len();
        match self.items.last_mut() {
            Some(Inline::Text(prev)) => prev.push_str(&collapsed),
            _ => self.items.push(Inline::Text(collapsed)),
        }
    }

    pub(crate) fn push_atomic(&mut self, html: String, speech: &str) {
        let speech = collapse(speech, &mut self.trailing_space);
        self.speech_len += speech.len();
        self.items.push(Inline::Atomic { html, speech });
    }

    /// An image inside the inline flow; its alt text is remembered so the
    /// caller can decide whether the paragraph is really a captioned image.
    pub(crate) fn push_image(&mut self, html: String, alt: &str) {
        if self.images.is_empty() && self.speech_len == 0 {
            self.image_first = true;
        }
        self.images.push(alt.trim().to_owned());
        self.items.push(Inline::Atomic {
            html,
            speech: String::new(),
        });
    }

    pub(crate) fn open(&mut self, tag: &'static str, attrs: String) {
        if self.open.len() >= MAX_INLINE_DEPTH {
            self.skipped_opens += 1;
            return;
        }
        self.open.push(tag);
        self.items.push(Inline::Open { tag, attrs });
    }

    pub(crate) fn close(&mut self) {
        if self.skipped_opens > 0 {
            self.skipped_opens -= 1;
            return;
        }
        if let Some(tag) = self.open.pop() {
            self.items.push(Inline::Close(tag));
        }
    }

    /// Closes whatever is still open, so the token list is balanced even if
    /// the event stream was cut short.
    pub(crate) fn finish(&mut self) {
        self.skipped_opens = 0;
        while let Some(tag) = self.open.pop() {
            self.items.push(Inline::Close(tag));
        }
    }

    pub(crate) fn has_speech(&self) -> bool {
        self.speech_len > 0 && !self.speech().trim().is_empty()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub(crate) fn images(&self) -> &[String] {
        &self.images
    }

    pub(crate) fn starts_with_image(&self) -> bool {
        self.image_first
    }

    pub(crate) fn speech(&self) -> String {
        let mut out = String::with_capacity(self.speech_len);
        for item in &self.items {
            match item {
                Inline::Text(t) => out.push_str(t),
                Inline::Atomic { speech, .. } => out.push_str(speech),
                Inline::Open { .. } | Inline::Close(_) => {}
            }
        }
        out
    }

    /// The whole content as one HTML fragment.
    pub(crate) fn html(&self) -> String {
        let mut out = String::new();
        for item in &self.items {
            render_item(item, &mut out);
        }
        out
    }
}

/// One piece of a (possibly) split block: inner HTML and speech text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Piece {
    pub html: String,
    pub text: String,
}

/// Splits `buf` into pieces whose speech text has at most `max_chars`
/// characters. Always returns at least one piece; a block without speech
/// comes back whole.
pub(crate) fn split(buf: &InlineBuf, max_chars: usize) -> Vec<Piece> {
    let max_chars = max_chars.max(1);
    let speech = buf.speech();
    let ranges = cut_ranges(&speech, max_chars);
    if ranges.len() <= 1 {
        let text = ranges
            .first()
            .map(|&(a, b)| speech[a..b].to_owned())
            .unwrap_or_default();
        return vec![Piece {
            html: buf.html(),
            text,
        }];
    }

    // Item positions where each piece after the first begins.
    let mut starts = Vec::with_capacity(ranges.len());
    let mut cursor = Cursor::default();
    for &(a, _) in ranges.iter().skip(1) {
        starts.push(cursor.seek(&buf.items, a));
    }

    let mut pieces = Vec::with_capacity(ranges.len());
    let mut stack: Vec<(&'static str, &str)> = Vec::new();
    let mut pos = Pos { item: 0, offset: 0 };
    for (i, &(a, b)) in ranges.iter().enumerate() {
        let end = starts.get(i).copied().unwrap_or(Pos {
            item: buf.items.len(),
            offset: 0,
        });
        let mut html = String::new();
        for (tag, attrs) in &stack {
            open_tag(tag, attrs, &mut html);
        }
        render_range(&buf.items, pos, end, &mut stack, &mut html);
        for (tag, _) in stack.iter().rev() {
            close_tag(tag, &mut html);
        }
        pieces.push(Piece {
            html,
            text: speech[a..b].to_owned(),
        });
        pos = end;
    }
    pieces
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pos {
    item: usize,
    /// Byte offset inside a `Text` item; 0 otherwise.
    offset: usize,
}

/// Walks the items once, left to right, mapping speech offsets to positions;
/// offsets must be requested in increasing order (keeps splitting linear).
#[derive(Default)]
struct Cursor {
    item: usize,
    speech_start: usize,
}

impl Cursor {
    fn seek(&mut self, items: &[Inline], target: usize) -> Pos {
        while let Some(item) = items.get(self.item) {
            let len = match item {
                Inline::Text(t) => t.len(),
                Inline::Atomic { speech, .. } => speech.len(),
                Inline::Open { .. } | Inline::Close(_) => 0,
            };
            if len > 0 && self.speech_start + len > target {
                let (mut item_idx, offset) = match item {
                    Inline::Text(_) => (self.item, target.saturating_sub(self.speech_start)),
                    // Never cut inside an atomic item: start the piece with it
                    // when the cut is at its start, otherwise after it.
                    _ if target <= self.speech_start => (self.item, 0),
                    _ => {
                        self.speech_start += len;
                        self.item += 1;
                        continue;
                    }
                };
                if offset == 0 {
                    // Tags opening right at the cut belong to the next piece,
                    // which avoids empty `<a></a>` at the end of a piece.
                    while item_idx > 0 && matches!(items[item_idx - 1], Inline::Open { .. }) {
                        item_idx -= 1;
                    }
                }
                return Pos {
                    item: item_idx,
                    offset,
                };
            }
            self.speech_start += len;
            self.item += 1;
        }
        Pos {
            item: items.len(),
            offset: 0,
        }
    }
}

fn render_range<'a>(
    items: &'a [Inline],
    from: Pos,
    to: Pos,
    stack: &mut Vec<(&'static str, &'a str)>,
    out: &mut String,
) {
    let mut i = from.item;
    while i < items.len() && (i < to.item || (i == to.item && to.offset > 0)) {
        let item = &items[i];
        let start = if i == from.item { from.offset } else { 0 };
        let end = if i == to.item { Some(to.offset) } else { None };
        match item {
            Inline::Text(t) => {
                let end = end.unwrap_or(t.len());
                if let Some(slice) = t.get(start..end) {
                    escape_into(slice, out);
                }
            }
            Inline::Open { tag, attrs } => {
                stack.push((tag, attrs));
                open_tag(tag, attrs, out);
            }
            Inline::Close(tag) => {
                stack.pop();
                close_tag(tag, out);
            }
            Inline::Atomic { html, .. } => out.push_str(html),
        }
        i += 1;
    }
}

fn render_item(item: &Inline, out: &mut String) {
    match item {
        Inline::Text(t) => escape_into(t, out),
        Inline::Open { tag, attrs } => open_tag(tag, attrs, out),
        Inline::Close(tag) => close_tag(tag, out),
        Inline::Atomic { html, .. } => out.push_str(html),
    }
}

fn open_tag(tag: &str, attrs: &str, out: &mut String) {
    out.push('<');
    out.push_str(tag);
    out.push_str(attrs);
    out.push('>');
}

fn close_tag(tag: &str, out: &mut String) {
    out.push_str("</");
    out.push_str(tag);
    out.push('>');
}

/// Escapes text for use in element content and double-quoted attributes.
pub(crate) fn escape_into(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
}

pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(text, &mut out);
    out
}

/// Collapses whitespace runs to a single space, dropping a leading space if
/// the speech so far already ends in one. Control characters (binary-ish
/// input) are treated as whitespace so they never reach the speech engine.
fn collapse(text: &str, trailing_space: &mut bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_whitespace() || c.is_control() {
            if !*trailing_space {
                out.push(' ');
                *trailing_space = true;
            }
        } else {
            out.push(c);
            *trailing_space = false;
        }
    }
    out
}

/// Chooses the byte ranges (into `speech`) of each piece's text: trimmed,
/// non-empty, at most `max_chars` characters each. Empty speech gives no
/// ranges.
fn cut_ranges(speech: &str, max_chars: usize) -> Vec<(usize, usize)> {
    let end = speech.trim_end().len();
    let mut a = speech.len() - speech.trim_start().len();
    let mut ranges = Vec::new();
    // Pieces shorter than this are only accepted at word boundaries, so a
    // stray abbreviation ("Dr. ") early in the window doesn't yield a stub.
    let min_chars = max_chars / 4;
    while a < end {
        let rest = &speech[a..end];
        let Some((limit, _)) = rest.char_indices().nth(max_chars) else {
            ranges.push((a, end));
            break;
        };
        // Candidate cuts are byte offsets `b` (relative to `a`) such that the
        // piece is `rest[..b]`, with at most `max_chars` chars (b <= limit).
        let mut sentence = None;
        let mut clause = None;
        let mut word = None;
        let mut prev: Option<char> = None;
        let mut prev2: Option<char> = None;
        for (n, (i, c)) in rest.char_indices().enumerate() {
            if i > limit {
                break;
            }
            let at_space = c == ' ';
            let after_dash = matches!(prev, Some('—' | '–'));
            if i > 0 && (at_space || after_dash) {
                let chars_before = n;
                let end_char = if at_space { prev } else { None };
                // Closing quotes/brackets after the sentence mark still end it.
                let mark = match end_char {
                    Some('"' | '\'' | '”' | '’' | ')' | ']' | '»') => prev2,
                    other => other,
                };
                let class = match mark {
                    Some('.' | '!' | '?' | '…' | '。' | '！' | '？') => 0,
                    Some(',' | ';' | ':' | '—' | '–') => 1,
                    _ if after_dash => 1,
                    Some('-') if prev2 == Some(' ') => 1,
                    _ => 2,
                };
                if class == 0 && chars_before >= min_chars {
                    sentence = Some(i);
                } else if class <= 1 && chars_before >= min_chars {
                    clause = Some(i);
                } else {
                    word = Some(i);
                }
            }
            prev2 = prev;
            prev = Some(c);
        }
        let (cut, next) = match sentence.or(clause).or(word) {
            Some(b) => {
                let piece_end = rest[..b].trim_end().len();
                let skipped = rest[b..].len() - rest[b..].trim_start().len();
                (piece_end, b + skipped)
            }
            // One word longer than the limit: cut it.
            None => (limit, limit),
        };
        if cut == 0 {
            // Only possible if the window starts with whitespace, which the
            // trimming above rules out; bail out rather than loop forever.
            ranges.push((a, end));
            break;
        }
        ranges.push((a, a + cut));
        a += next;
    }
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buf_of(text: &str) -> InlineBuf {
        let mut b = InlineBuf::new();
        b.push_text(text);
        b
    }

    #[test]
    fn short_text_is_one_piece() {
        let pieces = split(&buf_of("  Hello   world.  "), 300);
        assert_eq!(pieces.len(), 1);
        assert_eq!(pieces[0].text, "Hello world.");
    }

    #[test]
    fn prefers_sentence_ends() {
        let text = "First sentence is here. Second sentence, with a clause, is here. Third one.";
        let pieces = split(&buf_of(text), 50);
        let texts: Vec<_> = pieces.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "First sentence is here.",
                "Second sentence, with a clause, is here.",
                "Third one."
            ]
        );
    }

    #[test]
    fn falls_back_to_clauses_then_words_then_hard_cuts() {
        let pieces = split(&buf_of("alpha beta gamma, delta epsilon zeta eta"), 20);
        assert_eq!(pieces[0].text, "alpha beta gamma,");
        let pieces = split(&buf_of("alpha beta gamma delta epsilon"), 12);
        assert_eq!(pieces[0].text, "alpha beta");
        let pieces = split(&buf_of("abcdefghijklmnopqrstuvwxyz"), 10);
        let texts: Vec<_> = pieces.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(texts, ["abcdefghij", "klmnopqrst", "uvwxyz"]);
    }

    #[test]
    fn em_dash_is_a_clause_boundary() {
        let pieces = split(&buf_of("one two three—four five six seven"), 16);
        assert_eq!(pieces[0].text, "one two three—");
        assert_eq!(pieces[1].text, "four five six");
    }

    #[test]
    fn limit_counts_characters_not_bytes() {
        let text = "ééééé ééééé ééééé";
        for piece in split(&buf_of(text), 11) {
            assert!(piece.text.chars().count() <= 11, "{:?}", piece.text);
        }
    }

    #[test]
    fn tags_are_closed_and_reopened_across_a_cut() {
        let mut b = InlineBuf::new();
        b.push_text("Start here. ");
        b.open("a", " href=\"https://e.org/x\"".into());
        b.push_text("a link that runs. Across the cut");
        b.close();
        b.push_text(" and ends.");
        b.finish();
        let pieces = split(&b, 30);
        assert!(pieces.len() >= 2);
        let joined: String = pieces.iter().map(|p| p.html.as_str()).collect();
        assert_eq!(
            joined.replace("</a><a href=\"https://e.org/x\">", ""),
            b.html()
        );
        let with_link = pieces.iter().filter(|p| p.html.contains("<a href")).count();
        assert!(with_link >= 2, "{pieces:?}");
        for p in &pieces {
            assert_eq!(
                p.html.matches("<a ").count(),
                p.html.matches("</a>").count()
            );
            assert!(!p.html.contains("<a href=\"https://e.org/x\"></a>"));
        }
    }

    #[test]
    fn atomic_items_are_never_cut() {
        let mut b = InlineBuf::new();
        b.push_text("word ");
        b.push_atomic("<br>".into(), " ");
        b.push_text("another word here");
        let pieces = split(&b, 9);
        let html: String = pieces.iter().map(|p| p.html.as_str()).collect();
        assert_eq!(html.matches("<br>").count(), 1);
    }
}
