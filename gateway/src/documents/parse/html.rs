//! Web pages to Markdown: readability-style main-content extraction with
//! `dom_smoothie` (a port of Mozilla's Readability.js), whose Markdown output
//! then goes through the same [`super::markdown_to_blocks`] path as pasted
//! documents (and so through the same sanitiser).

use dom_smoothie::{Config, Readability, ReadabilityError, TextMode};
use pulldown_cmark::{Event, Parser, Tag, TagEnd};

/// Pages with more elements than this are refused rather than scored: the
/// scoring passes are not linear in pathological DOMs.
const MAX_ELEMENTS: usize = 150_000;

/// Deeper (estimated) element nesting is refused: see [`super::depth`].
const MAX_NESTING: usize = 1_000;

/// An extracted article with less prose than this (non-whitespace chars
/// outside links and code) is treated as boilerplate: nav menus, consent
/// walls, "enable JavaScript" shells.
const MIN_PROSE_CHARS: usize = 80;

/// The main content of a web page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Article {
    /// From `og:title`/`<title>`/`<h1>`, as Readability chooses it (site
    /// names like "| The Paper" stripped).
    pub title: Option<String>,
    /// The article body as Markdown, links and images absolute.
    pub markdown: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("the page has no readable text")]
    NoReadableText,
    #[error("the page is too large to extract ({found} elements, at most {max})")]
    TooLarge { found: usize, max: usize },
    #[error("the page's elements are nested too deeply (more than {max} levels)")]
    TooDeeplyNested { max: usize },
}

/// Extracts the main content of `html` (the article, not menus, cookie
/// banners, footers) as Markdown. Relative links and image sources are made
/// absolute against `base`, the final URL after redirects (a `<base href>`
/// in the page takes precedence, as in browsers).
pub fn extract_article(html: &str, base: &url::Url) -> Result<Article, ExtractError> {
    if super::depth::nests_deeper_than(html, MAX_NESTING) {
        return Err(ExtractError::TooDeeplyNested { max: MAX_NESTING });
    }
    let config = Config {
        text_mode: TextMode::Markdown,
        max_elements_to_parse: MAX_ELEMENTS,
        ..Config::default()
    };
    let mut readability =
        Readability::new(html, Some(base.as_str()), Some(config)).map_err(map_error)?;
    let article = readability.parse().map_err(map_error)?;
    let markdown = article.text_content.trim().to_owned();
    if prose_chars(&markdown) < MIN_PROSE_CHARS {
        return Err(ExtractError::NoReadableText);
    }
    let title = Some(article.title.trim())
        .filter(|t| !t.is_empty())
        .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "));
    Ok(Article { title, markdown })
}

fn map_error(error: ReadabilityError) -> ExtractError {
    match error {
        ReadabilityError::TooManyElements(found, max) => ExtractError::TooLarge { found, max },
        // A bad document URL can't happen with a parsed `Url`; everything
        // else means Readability found no content.
        _ => ExtractError::NoReadableText,
    }
}

/// Counts non-whitespace characters of text outside links and code: what a
/// listener would actually hear as prose.
fn prose_chars(markdown: &str) -> usize {
    let mut link_depth = 0usize;
    let mut code_depth = 0usize;
    let mut count = 0;
    for event in Parser::new_ext(markdown, super::markdown::parser_options()) {
        match event {
            Event::Start(Tag::Link { .. }) => link_depth += 1,
            Event::End(TagEnd::Link) => link_depth = link_depth.saturating_sub(1),
            Event::Start(Tag::CodeBlock(_)) => code_depth += 1,
            Event::End(TagEnd::CodeBlock) => code_depth = code_depth.saturating_sub(1),
            Event::Text(text) if link_depth == 0 && code_depth == 0 => {
                count += text.chars().filter(|c| !c.is_whitespace()).count();
            }
            _ => {}
        }
    }
    count
}
