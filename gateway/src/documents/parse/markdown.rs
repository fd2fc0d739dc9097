//! Markdown (CommonMark + GFM-style extensions) to blocks, by walking
//! pulldown-cmark's event stream. Leaf blocks (paragraphs, headings, tight
//! list-item text) collect their inline content into an [`InlineBuf`], which
//! the splitter can cut; container blocks (quotes, lists, footnotes) only
//! contribute wrapper elements around their leaves.

use std::collections::HashMap;

use pulldown_cmark::{Alignment, CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use super::split::{InlineBuf, escape};
use super::{BlockKind, Sink, Wrap};

/// Only the innermost containers are rendered around a leaf. Deeper nesting
/// is legal Markdown but would make every block's HTML (and the sanitiser's
/// recursion) grow with the nesting depth.
const MAX_RENDERED_CONTAINERS: usize = 8;

pub(crate) fn parser_options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_MATH
}

pub(crate) fn walk(markdown: &str, sink: &mut Sink) {
    let mut walker = Walker::default();
    for event in Parser::new_ext(markdown, parser_options()) {
        walker.event(event, sink);
    }
    walker.finish(sink);
}

#[derive(Debug)]
enum Container {
    Quote,
    List { next: Option<u64> },
    Item { number: Option<u64>, leaves: usize },
    Footnote { number: u32, leaves: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LeafKind {
    Paragraph,
    Heading(u8),
    /// Inline content without a paragraph: tight list items, stray text.
    Plain,
}

#[derive(Debug)]
struct Leaf {
    kind: LeafKind,
    inline: InlineBuf,
    display_math: bool,
}

#[derive(Debug)]
struct Image {
    src: String,
    title: String,
    alt: String,
    depth: usize,
}

#[derive(Debug)]
struct Table {
    html: String,
    aligns: Vec<Alignment>,
    column: usize,
    in_head: bool,
    cell: Option<InlineBuf>,
}

#[derive(Debug, Default)]
struct Walker {
    containers: Vec<Container>,
    leaf: Option<Leaf>,
    code: Option<(String, String)>,
    html_block: Option<String>,
    table: Option<Table>,
    image: Option<Image>,
    footnotes: HashMap<String, u32>,
    /// Inside an inline `<script>`/`<style>`: the sanitiser drops the element
    /// with its content, so its text must not be spoken either.
    suppressed: bool,
}

impl Walker {
    fn event(&mut self, event: Event<'_>, sink: &mut Sink) {
        match event {
            Event::Start(tag) => self.start(tag, sink),
            Event::End(tag) => self.end(tag, sink),
            Event::Text(text) => {
                if let Some((_, code)) = &mut self.code {
                    code.push_str(&text);
                } else if let Some(image) = &mut self.image {
                    image.alt.push_str(&text);
                } else if !self.suppressed {
                    self.inline().push_text(&text);
                }
            }
            Event::Code(code) => {
                if let Some(image) = &mut self.image {
                    image.alt.push_str(&code);
                } else {
                    let inline = self.inline();
                    inline.open("code", String::new());
                    inline.push_text(&code);
                    inline.close();
                }
            }
            Event::InlineMath(tex) => self.math(&tex, false),
            Event::DisplayMath(tex) => self.math(&tex, true),
            Event::Html(html) => match &mut self.html_block {
                Some(block) => block.push_str(&html),
                None => self.inline_html(&html),
            },
            Event::InlineHtml(html) => self.inline_html(&html),
            Event::FootnoteReference(label) => {
                let number = self.footnote_number(&label);
                self.inline().push_atomic(
                    format!("<sup data-footnote-ref=\"{number}\">{number}</sup>"),
                    "",
                );
            }
            Event::SoftBreak => {
                if let Some(image) = &mut self.image {
                    image.alt.push(' ');
                } else {
                    self.inline().push_text(" ");
                }
            }
            Event::HardBreak => {
                if self.image.is_none() {
                    self.inline().push_atomic("<br>".to_owned(), " ");
                }
            }
            Event::Rule => {
                self.flush_leaf(sink);
                let wraps = self.container_wraps();
                sink.push_fixed(self.in_footnote(), BlockKind::Rule, &wraps, "<hr>");
            }
            Event::TaskListMarker(checked) => {
                let mark = if checked { "☑ " } else { "☐ " };
                self.inline().push_atomic(mark.to_owned(), "");
            }
        }
    }

    fn start(&mut self, tag: Tag<'_>, sink: &mut Sink) {
        if let Some(image) = &mut self.image {
            // Markup inside alt text is flattened; only nested images matter
            // for finding the end of the outer one.
            if matches!(tag, Tag::Image { .. }) {
                image.depth += 1;
            }
            return;
        }
        match tag {
            Tag::Paragraph => self.start_leaf(LeafKind::Paragraph, sink),
            Tag::Heading { level, .. } => {
                self.start_leaf(LeafKind::Heading(level_number(level)), sink)
            }
            Tag::BlockQuote(_) => {
                self.flush_leaf(sink);
                self.containers.push(Container::Quote);
            }
            Tag::CodeBlock(kind) => {
                self.flush_leaf(sink);
                let lang = match kind {
                    CodeBlockKind::Fenced(info) => info
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                    CodeBlockKind::Indented => String::new(),
                };
                self.code = Some((lang, String::new()));
            }
            Tag::HtmlBlock => {
                self.flush_leaf(sink);
                self.html_block = Some(String::new());
            }
            Tag::List(start) => {
                self.flush_leaf(sink);
                self.containers.push(Container::List { next: start });
            }
            Tag::Item => {
                self.flush_leaf(sink);
                let number = match self.containers.last_mut() {
                    Some(Container::List { next: Some(n) }) => {
                        let current = *n;
                        *n = n.saturating_add(1);
                        Some(current)
                    }
                    _ => None,
                };
                self.containers.push(Container::Item { number, leaves: 0 });
            }
            Tag::FootnoteDefinition(label) => {
                self.flush_leaf(sink);
                let number = self.footnote_number(&label);
                self.containers
                    .push(Container::Footnote { number, leaves: 0 });
            }
            Tag::Table(aligns) => {
                self.flush_leaf(sink);
                self.table = Some(Table {
                    html: "<table>".to_owned(),
                    aligns,
                    column: 0,
                    in_head: false,
                    cell: None,
                });
            }
            Tag::TableHead => {
                if let Some(table) = &mut self.table {
                    table.in_head = true;
                    table.column = 0;
                    table.html.push_str("<thead><tr>");
                }
            }
            Tag::TableRow => {
                if let Some(table) = &mut self.table {
                    table.column = 0;
                    table.html.push_str("<tr>");
                }
            }
            Tag::TableCell => {
                if let Some(table) = &mut self.table {
                    table.cell = Some(InlineBuf::new());
                }
            }
            Tag::Emphasis => self.inline().open("em", String::new()),
            Tag::Strong => self.inline().open("strong", String::new()),
            Tag::Strikethrough => self.inline().open("del", String::new()),
            Tag::Superscript => self.inline().open("sup", String::new()),
            Tag::Subscript => self.inline().open("sub", String::new()),
            Tag::Link {
                dest_url, title, ..
            } => {
                let mut attrs = format!(" href=\"{}\"", escape(&dest_url));
                if !title.is_empty() {
                    attrs.push_str(&format!(" title=\"{}\"", escape(&title)));
                }
                self.inline().open("a", attrs);
            }
            Tag::Image {
                dest_url, title, ..
            } => {
                self.image = Some(Image {
                    src: dest_url.into_string(),
                    title: title.into_string(),
                    alt: String::new(),
                    depth: 1,
                });
            }
            Tag::DefinitionList
            | Tag::DefinitionListTitle
            | Tag::DefinitionListDefinition
            | Tag::MetadataBlock(_) => {}
        }
    }

    fn end(&mut self, tag: TagEnd, sink: &mut Sink) {
        if let Some(image) = &mut self.image {
            if tag == TagEnd::Image {
                image.depth -= 1;
                if image.depth == 0 {
                    self.finish_image();
                }
            }
            return;
        }
        match tag {
            TagEnd::Paragraph | TagEnd::Heading(_) => self.flush_leaf(sink),
            TagEnd::BlockQuote(_) | TagEnd::List(_) | TagEnd::Item | TagEnd::FootnoteDefinition => {
                self.flush_leaf(sink);
                self.containers.pop();
            }
            TagEnd::CodeBlock => self.flush_code(sink),
            TagEnd::HtmlBlock => self.flush_html_block(sink),
            TagEnd::TableHead => {
                if let Some(table) = &mut self.table {
                    table.in_head = false;
                    table.html.push_str("</tr></thead><tbody>");
                }
            }
            TagEnd::TableRow => {
                if let Some(table) = &mut self.table {
                    table.html.push_str("</tr>");
                }
            }
            TagEnd::TableCell => {
                if let Some(table) = &mut self.table {
                    let mut cell = table.cell.take().unwrap_or_else(InlineBuf::new);
                    cell.finish();
                    let tag = if table.in_head { "th" } else { "td" };
                    let align = match table.aligns.get(table.column) {
                        Some(Alignment::Left) => " align=\"left\"",
                        Some(Alignment::Center) => " align=\"center\"",
                        Some(Alignment::Right) => " align=\"right\"",
                        _ => "",
                    };
                    table
                        .html
                        .push_str(&format!("<{tag}{align}>{}</{tag}>", cell.html()));
                    table.column += 1;
                }
            }
            TagEnd::Table => self.flush_table(sink),
            TagEnd::Emphasis
            | TagEnd::Strong
            | TagEnd::Strikethrough
            | TagEnd::Superscript
            | TagEnd::Subscript
            | TagEnd::Link => self.inline().close(),
            TagEnd::Image
            | TagEnd::DefinitionList
            | TagEnd::DefinitionListTitle
            | TagEnd::DefinitionListDefinition
            | TagEnd::MetadataBlock(_) => {}
        }
    }

    /// Where inline content goes right now: the current table cell, or the
    /// current leaf (started implicitly for tight list items).
    fn inline(&mut self) -> &mut InlineBuf {
        if self.table.is_none() && self.leaf.is_none() {
            let leaf = self.new_leaf(LeafKind::Plain);
            self.leaf = Some(leaf);
        }
        match (&mut self.table, &mut self.leaf) {
            (Some(table), _) => table.cell.get_or_insert_with(InlineBuf::new),
            (None, leaf) => {
                &mut leaf
                    .get_or_insert_with(|| Leaf::empty(LeafKind::Plain))
                    .inline
            }
        }
    }

    fn new_leaf(&self, kind: LeafKind) -> Leaf {
        let mut leaf = Leaf::empty(kind);
        if let Some(Container::Footnote { number, leaves: 0 }) = self.containers.last() {
            leaf.inline.push_atomic(
                format!("<sup data-footnote-label=\"{number}\">{number}</sup> "),
                "",
            );
        }
        leaf
    }

    fn start_leaf(&mut self, kind: LeafKind, sink: &mut Sink) {
        self.flush_leaf(sink);
        self.leaf = Some(self.new_leaf(kind));
    }

    fn math(&mut self, tex: &str, display: bool) {
        if let Some(image) = &mut self.image {
            image.alt.push_str(tex);
            return;
        }
        let mode = if display { "display" } else { "inline" };
        self.inline().push_atomic(
            format!("<span data-math=\"{mode}\">{}</span>", escape(tex)),
            "",
        );
        if display && let Some(leaf) = &mut self.leaf {
            leaf.display_math = true;
        }
    }

    fn inline_html(&mut self, html: &str) {
        let lower = html.trim_start().to_ascii_lowercase();
        if lower.starts_with("<script") || lower.starts_with("<style") {
            self.suppressed = true;
        } else if lower.starts_with("</script") || lower.starts_with("</style") {
            self.suppressed = false;
        }
        if self.image.is_none() {
            // Kept verbatim here; the sanitiser decides what survives.
            self.inline().push_atomic(html.to_owned(), "");
        }
    }

    fn finish_image(&mut self) {
        let Some(image) = self.image.take() else {
            return;
        };
        let mut html = format!(
            "<img src=\"{}\" alt=\"{}\"",
            escape(&image.src),
            escape(image.alt.trim())
        );
        if !image.title.is_empty() {
            html.push_str(&format!(" title=\"{}\"", escape(&image.title)));
        }
        html.push('>');
        self.inline().push_image(html, &image.alt);
    }

    fn footnote_number(&mut self, label: &str) -> u32 {
        let next = u32::try_from(self.footnotes.len() + 1).unwrap_or(u32::MAX);
        *self.footnotes.entry(label.to_owned()).or_insert(next)
    }

    fn in_footnote(&self) -> bool {
        self.containers
            .iter()
            .any(|c| matches!(c, Container::Footnote { .. }))
    }

    fn container_wraps(&self) -> Vec<Wrap> {
        let skip = self
            .containers
            .len()
            .saturating_sub(MAX_RENDERED_CONTAINERS);
        let mut wraps = Vec::new();
        for container in self.containers.iter().skip(skip) {
            match container {
                Container::Quote => wraps.push(Wrap::new("blockquote", String::new())),
                Container::List { .. } => {}
                Container::Item { number, leaves } => {
                    match number {
                        Some(n) => wraps.push(Wrap::new("ol", format!(" start=\"{n}\""))),
                        None => wraps.push(Wrap::new("ul", String::new())),
                    }
                    // Later blocks of the same item: the player may hide the
                    // repeated bullet/number.
                    let attrs = if *leaves > 0 {
                        " data-item-continues=\"true\"".to_owned()
                    } else {
                        String::new()
                    };
                    wraps.push(Wrap::new("li", attrs));
                }
                Container::Footnote { number, .. } => {
                    wraps.push(Wrap::new("div", format!(" data-footnote=\"{number}\"")));
                }
            }
        }
        wraps
    }

    fn flush_leaf(&mut self, sink: &mut Sink) {
        let Some(mut leaf) = self.leaf.take() else {
            return;
        };
        leaf.inline.finish();
        self.suppressed = false;
        if leaf.inline.is_empty() {
            return;
        }
        let mut wraps = self.container_wraps();
        let innermost = self.containers.last();
        let first_in_item = matches!(innermost, Some(Container::Item { leaves: 0, .. }));
        let has_speech = leaf.inline.has_speech();
        let single_image = leaf.inline.images().len() == 1 && leaf.inline.starts_with_image();

        let kind = match leaf.kind {
            LeafKind::Heading(level) => {
                wraps.push(Wrap::new(heading_tag(level), String::new()));
                BlockKind::Heading
            }
            _ if single_image => {
                if !has_speech {
                    // An image on its own: its alt text is the caption.
                    let alt = leaf.inline.images().first().cloned().unwrap_or_default();
                    if !alt.is_empty() {
                        leaf.inline.open("figcaption", String::new());
                        leaf.inline.push_text(&alt);
                        leaf.inline.close();
                    }
                }
                wraps.push(Wrap::new("figure", String::new()));
                BlockKind::ImageCaption
            }
            _ if leaf.display_math && !has_speech => {
                wraps.push(Wrap::new("div", String::new()));
                BlockKind::Math
            }
            _ => match innermost {
                Some(Container::Item { .. }) => {
                    if !first_in_item {
                        wraps.push(Wrap::new("p", String::new()));
                    }
                    BlockKind::ListItem
                }
                Some(Container::Footnote { .. }) => {
                    wraps.push(Wrap::new("p", String::new()));
                    BlockKind::Footnote
                }
                Some(Container::Quote) => {
                    wraps.push(Wrap::new("p", String::new()));
                    BlockKind::BlockQuote
                }
                _ => {
                    wraps.push(Wrap::new("p", String::new()));
                    BlockKind::Paragraph
                }
            },
        };
        sink.push_leaf(self.in_footnote(), kind, &wraps, &leaf.inline);
        self.count_leaf();
    }

    fn count_leaf(&mut self) {
        if let Some(Container::Item { leaves, .. } | Container::Footnote { leaves, .. }) =
            self.containers.last_mut()
        {
            *leaves += 1;
        }
    }

    fn flush_code(&mut self, sink: &mut Sink) {
        let Some((lang, code)) = self.code.take() else {
            return;
        };
        let lang_attr = if lang.is_empty() {
            String::new()
        } else {
            format!(" data-lang=\"{}\"", escape(&lang))
        };
        let html = format!("<pre><code{lang_attr}>{}</code></pre>", escape(&code));
        let wraps = self.container_wraps();
        sink.push_fixed(self.in_footnote(), BlockKind::Code, &wraps, &html);
        self.count_leaf();
    }

    fn flush_html_block(&mut self, sink: &mut Sink) {
        let Some(html) = self.html_block.take() else {
            return;
        };
        let wraps = self.container_wraps();
        sink.push_fixed(self.in_footnote(), BlockKind::Html, &wraps, &html);
        self.count_leaf();
    }

    fn flush_table(&mut self, sink: &mut Sink) {
        let Some(mut table) = self.table.take() else {
            return;
        };
        table.html.push_str("</tbody></table>");
        let wraps = self.container_wraps();
        sink.push_fixed(self.in_footnote(), BlockKind::Table, &wraps, &table.html);
        self.count_leaf();
    }

    fn finish(mut self, sink: &mut Sink) {
        if self.image.is_some() {
            self.finish_image();
        }
        self.flush_leaf(sink);
        self.flush_code(sink);
        self.flush_html_block(sink);
        self.flush_table(sink);
    }
}

impl Leaf {
    fn empty(kind: LeafKind) -> Self {
        Self {
            kind,
            inline: InlineBuf::new(),
            display_math: false,
        }
    }
}

fn level_number(level: HeadingLevel) -> u8 {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

fn heading_tag(level: u8) -> &'static str {
    match level {
        1 => "h1",
        2 => "h2",
        3 => "h3",
        4 => "h4",
        5 => "h5",
        _ => "h6",
    }
}
