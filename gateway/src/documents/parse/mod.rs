//! Turning documents into readable blocks for the player.
//!
//! A document (pasted Markdown, plain text, or a fetched web page) becomes an
//! ordered list of [`Block`]s. The player shows every block's `html` and reads
//! the `text` of the speakable ones aloud, highlighting the block being read.
//!
//! # Splitting
//!
//! No speakable block's `text` is longer than [`ParseOptions::max_block_chars`]
//! characters, so highlighting stays close to what is being read and
//! synthesis requests stay small. A longer element is cut at sentence ends
//! first, then at clause boundaries (`,` `;` `:` `—`), then between words;
//! only a single word longer than the limit is cut inside.
//!
//! The pieces of one element share a `group` (the `idx` of the first piece).
//! Each piece's `html` is the element's full wrapper (e.g. `<p>…</p>`, or
//! `<ul><li>…</li></ul>` for a list item) holding exactly its part of the
//! inline content; inline tags open at a cut (links, emphasis, code) are
//! closed at the end of one piece and reopened in the next. Rendering the
//! inner HTML of a group's pieces one after another inside one wrapper
//! reproduces the original element.
//!
//! **Every piece after the first carries `data-continues="true"` on its
//! outermost element**, so the player can render a group as one flowing
//! element (e.g. `display: inline` the continuation, hide repeated bullets).
//!
//! Other `data-` attributes the player may use: `data-item-continues="true"`
//! on an `<li>` holding a later block of the same list item, `data-footnote`
//! (`<div>` around a footnote's blocks), `data-footnote-ref` (the `<sup>`
//! marking a reference), `data-footnote-label`, `data-math="inline|display"`
//! (a `<span>` holding TeX source) and `data-lang` on fenced code.
//!
//! # Safety
//!
//! Every `html` string has been through [`ammonia`]: no scripts, styles,
//! event handlers or `javascript:`/`data:` URLs; links get
//! `rel="noopener noreferrer nofollow"`. Raw HTML in Markdown is sanitised the
//! same way, never passed through.

mod depth;
mod html;
mod markdown;
mod split;

use std::sync::LazyLock;

pub use html::{Article, ExtractError, extract_article};
use split::InlineBuf;

/// One unit of display and speech.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Block {
    /// Position in reading order, from 0.
    pub idx: u32,
    pub kind: BlockKind,
    /// Sanitised display HTML of this block (see the module docs).
    pub html: String,
    /// Speech text: the visible text without markup, whitespace collapsed;
    /// empty when not speakable.
    pub text: String,
    pub speakable: bool,
    /// Blocks split from one source element share a group, equal to the
    /// `idx` of the first piece.
    pub group: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockKind {
    Heading,
    Paragraph,
    ListItem,
    BlockQuote,
    /// An image with its caption (alt text or the text following it).
    ImageCaption,
    /// A footnote definition, placed after the document body.
    Footnote,
    Code,
    Math,
    Table,
    Rule,
    /// Raw HTML from Markdown, shown (sanitised) but not spoken.
    Html,
}

impl BlockKind {
    /// Whether blocks of this kind are read aloud (when they have any text).
    pub fn is_speakable(self) -> bool {
        matches!(
            self,
            Self::Heading
                | Self::Paragraph
                | Self::ListItem
                | Self::BlockQuote
                | Self::ImageCaption
                | Self::Footnote
        )
    }
}

#[derive(Debug, Clone, Copy)]
pub struct ParseOptions {
    /// Longest speech text of one block, in characters (Unicode scalar
    /// values). Values below 1 are treated as 1.
    pub max_block_chars: usize,
}

impl Default for ParseOptions {
    fn default() -> Self {
        Self {
            max_block_chars: 300,
        }
    }
}

/// CommonMark with tables, footnotes, strikethrough, task lists and `$…$` /
/// `$$…$$` math, as blocks. Footnote definitions come last, in order of
/// first reference.
pub fn markdown_to_blocks(markdown: &str, options: ParseOptions) -> Vec<Block> {
    let mut sink = Sink::new(options);
    markdown::walk(markdown, &mut sink);
    sink.finish()
}

/// Plain text as blocks: paragraphs are separated by blank lines, line
/// breaks inside a paragraph are kept for display (`<br>`) and read as
/// spaces. The text is escaped, never interpreted as Markdown or HTML.
pub fn plain_text_to_blocks(text: &str, options: ParseOptions) -> Vec<Block> {
    let mut sink = Sink::new(options);
    let wraps = [Wrap::new("p", String::new())];
    let mut inline = InlineBuf::new();
    let mut lines_in_paragraph = 0usize;
    for line in text.lines() {
        if line.trim().is_empty() {
            if lines_in_paragraph > 0 {
                sink.push_leaf(false, BlockKind::Paragraph, &wraps, &inline);
            }
            inline = InlineBuf::new();
            lines_in_paragraph = 0;
            continue;
        }
        if lines_in_paragraph > 0 {
            inline.push_atomic("<br>".to_owned(), " ");
        }
        inline.push_text(line);
        lines_in_paragraph += 1;
    }
    if lines_in_paragraph > 0 {
        sink.push_leaf(false, BlockKind::Paragraph, &wraps, &inline);
    }
    sink.finish()
}

/// One element wrapped around a block's inline content, outermost first.
#[derive(Debug, Clone)]
pub(crate) struct Wrap {
    tag: &'static str,
    /// Pre-rendered attributes, each with a leading space.
    attrs: String,
}

impl Wrap {
    pub(crate) fn new(tag: &'static str, attrs: String) -> Self {
        Self { tag, attrs }
    }
}

fn wrap(wraps: &[Wrap], inner: &str, continues: bool) -> String {
    let mut out = String::with_capacity(inner.len() + wraps.len() * 16);
    for (i, w) in wraps.iter().enumerate() {
        out.push('<');
        out.push_str(w.tag);
        out.push_str(&w.attrs);
        if continues && i == 0 {
            out.push_str(" data-continues=\"true\"");
        }
        out.push('>');
    }
    out.push_str(inner);
    for w in wraps.iter().rev() {
        out.push_str("</");
        out.push_str(w.tag);
        out.push('>');
    }
    out
}

/// Collects blocks; footnote blocks are kept apart and appended at the end.
pub(crate) struct Sink {
    max_chars: usize,
    main: Vec<Block>,
    notes: Vec<Block>,
}

impl Sink {
    fn new(options: ParseOptions) -> Self {
        Self {
            max_chars: options.max_block_chars.max(1),
            main: Vec::new(),
            notes: Vec::new(),
        }
    }

    fn target(&mut self, footnote: bool) -> &mut Vec<Block> {
        if footnote {
            &mut self.notes
        } else {
            &mut self.main
        }
    }

    /// A block with inline content: split if speakable and too long.
    pub(crate) fn push_leaf(
        &mut self,
        footnote: bool,
        kind: BlockKind,
        wraps: &[Wrap],
        inline: &InlineBuf,
    ) {
        let max_chars = self.max_chars;
        let target = self.target(footnote);
        let group = index(target.len());
        if !(kind.is_speakable() && inline.has_speech()) {
            let html = sanitize(&wrap(wraps, &inline.html(), false));
            target.push(Block {
                idx: group,
                kind,
                html,
                text: String::new(),
                speakable: false,
                group,
            });
            return;
        }
        for (i, piece) in split::split(inline, max_chars).into_iter().enumerate() {
            target.push(Block {
                idx: index(target.len()),
                kind,
                html: sanitize(&wrap(wraps, &piece.html, i > 0)),
                text: piece.text,
                speakable: true,
                group,
            });
        }
    }

    /// A block shown as-is and never spoken (code, tables, rules, raw HTML).
    pub(crate) fn push_fixed(
        &mut self,
        footnote: bool,
        kind: BlockKind,
        wraps: &[Wrap],
        html: &str,
    ) {
        let html = sanitize(&wrap(wraps, html, false));
        if kind == BlockKind::Html && is_blank_html(&html) {
            // E.g. a comment or a lone <script>: nothing left to show.
            return;
        }
        let target = self.target(footnote);
        let idx = index(target.len());
        target.push(Block {
            idx,
            kind,
            html,
            text: String::new(),
            speakable: false,
            group: idx,
        });
    }

    fn finish(self) -> Vec<Block> {
        let Self {
            mut main, notes, ..
        } = self;
        let offset = index(main.len());
        main.extend(notes.into_iter().map(|mut block| {
            block.idx = block.idx.saturating_add(offset);
            block.group = block.group.saturating_add(offset);
            block
        }));
        main
    }
}

fn index(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// True when sanitised HTML shows nothing: only empty container elements
/// and whitespace.
fn is_blank_html(html: &str) -> bool {
    let mut in_tag = false;
    let mut visible = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag && !c.is_whitespace() => visible = true,
            _ => {}
        }
    }
    let has_media = ["<img", "<hr", "<table", "<iframe"]
        .iter()
        .any(|tag| html.contains(tag));
    !visible && !has_media
}

static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut builder = ammonia::Builder::default();
    builder
        .link_rel(Some("noopener noreferrer nofollow"))
        .add_generic_attribute_prefixes(["data-"]);
    builder
});

/// Nesting beyond this in one block's HTML (only reachable through raw
/// HTML in Markdown) is shown as escaped source instead of being parsed.
const MAX_BLOCK_NESTING: usize = 256;

/// Sanitises one block's display HTML.
pub(crate) fn sanitize(html: &str) -> String {
    if depth::nests_deeper_than(html, MAX_BLOCK_NESTING) {
        return format!("<p>{}</p>", split::escape(html));
    }
    SANITIZER.clean(html).to_string()
}

#[cfg(test)]
mod tests;
