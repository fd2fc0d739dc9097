use super::*;

const README: &str = include_str!("../../../tests/fixtures/documents/technical-readme.md");
const NEWS: &str = include_str!("../../../tests/fixtures/documents/news-article.html");
const NAV_ONLY: &str = include_str!("../../../tests/fixtures/documents/nav-only.html");

fn md(input: &str) -> Vec<Block> {
    markdown_to_blocks(input, ParseOptions::default())
}

fn md_max(input: &str, max_block_chars: usize) -> Vec<Block> {
    markdown_to_blocks(input, ParseOptions { max_block_chars })
}

fn squash(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Invariants every parse result must satisfy.
fn assert_invariants(blocks: &[Block], max: usize) {
    for (i, block) in blocks.iter().enumerate() {
        assert_eq!(block.idx as usize, i, "idx in order");
        assert!(block.group <= block.idx);
        assert_eq!(blocks[block.group as usize].group, block.group);
        if block.speakable {
            assert!(block.kind.is_speakable(), "{block:?}");
            assert!(!block.text.is_empty());
            assert!(
                block.text.chars().count() <= max,
                "block {i} has {} chars",
                block.text.chars().count()
            );
            assert_eq!(block.text, block.text.trim());
            assert!(!block.text.contains("  "));
        } else {
            assert!(block.text.is_empty());
        }
        if let Some(tag) = dangerous_tag(&block.html) {
            panic!("block {i} has {tag:?} in {:?}", block.html);
        }
    }
}

/// A tag of `html` that could run script: `<script>`, an `on…=` handler, a `javascript:` link
/// or source.
/// Only markup counts: the same words as escaped text (`&lt;script&gt;`) are harmless.
fn dangerous_tag(html: &str) -> Option<String> {
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        let after = &rest[start + 1..];
        let end = after.find('>').unwrap_or(after.len());
        let tag = after[..end].to_ascii_lowercase();
        rest = &after[end..];
        if !tag.starts_with(|c: char| c.is_ascii_alphabetic()) {
            continue;
        }
        let name = tag.split(|c: char| c.is_whitespace() || c == '/').next();
        let handler = tag
            .split(|c: char| c.is_whitespace() || c == '/' || c == '"' || c == '\'')
            .any(|attr| attr.starts_with("on") && attr.contains('='));
        let script_url = ["href=", "src=", "action="].iter().any(|attr| {
            tag.match_indices(attr).any(|(at, _)| {
                tag[at + attr.len()..]
                    .trim_start_matches(['"', '\''])
                    .trim_start()
                    .starts_with("javascript:")
            })
        });
        if name == Some("script") || handler || script_url {
            return Some(tag);
        }
    }
    None
}

#[test]
fn only_markup_counts_as_dangerous() {
    assert!(dangerous_tag("<p>&lt;img src=x onclick=alert(1)&gt; javascript:</p>").is_none());
    assert!(dangerous_tag("<img src=x onerror=alert(1)>").is_some());
    assert!(dangerous_tag("<a href=\"javascript:alert(1)\">x</a>").is_some());
    assert!(dangerous_tag("<SCRIPT>x</SCRIPT>").is_some());
    assert!(dangerous_tag("<code data-lang=\"javascript:x\"></code>").is_none());
}

fn kinds(blocks: &[Block]) -> Vec<BlockKind> {
    blocks.iter().map(|b| b.kind).collect()
}

#[test]
fn element_kinds_and_speakable_flags() {
    let blocks = md(
        "# Title\n\nA *para*.\n\n- one\n- two\n\n> quoted\n\n```rust\nfn main() {}\n```\n\n\
         $$x^2$$\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n---\n\n![A cat on a mat](cat.png)\n",
    );
    assert_invariants(&blocks, 300);
    use BlockKind::*;
    assert_eq!(
        kinds(&blocks),
        [
            Heading,
            Paragraph,
            ListItem,
            ListItem,
            BlockQuote,
            Code,
            Math,
            Table,
            Rule,
            ImageCaption
        ]
    );
    let speakable: Vec<bool> = blocks.iter().map(|b| b.speakable).collect();
    assert_eq!(
        speakable,
        [
            true, true, true, true, true, false, false, false, false, true
        ]
    );
    assert_eq!(blocks[0].html, "<h1>Title</h1>");
    assert_eq!(blocks[1].text, "A para.");
    assert_eq!(blocks[1].html, "<p>A <em>para</em>.</p>");
    assert_eq!(blocks[2].html, "<ul><li>one</li></ul>");
    assert_eq!(blocks[4].html, "<blockquote><p>quoted</p></blockquote>");
    assert!(
        blocks[5]
            .html
            .starts_with("<pre><code data-lang=\"rust\">fn main()")
    );
    assert!(blocks[7].html.contains("<td>1</td>"));
    assert_eq!(blocks[8].html, "<hr>");
    assert_eq!(blocks[9].text, "A cat on a mat");
    assert!(
        blocks[9]
            .html
            .contains("<figcaption>A cat on a mat</figcaption>")
    );
}

#[test]
fn ordered_and_nested_lists() {
    let blocks = md("3. three\n4. four\n   - nested *item*\n");
    assert_invariants(&blocks, 300);
    assert_eq!(kinds(&blocks), [BlockKind::ListItem; 3]);
    assert_eq!(blocks[0].html, "<ol start=\"3\"><li>three</li></ol>");
    assert_eq!(blocks[1].html, "<ol start=\"4\"><li>four</li></ol>");
    assert_eq!(
        blocks[2].html,
        "<ol start=\"4\"><li data-item-continues=\"true\"><ul><li>nested <em>item</em></li></ul></li></ol>"
    );
    assert_eq!(blocks[2].text, "nested item");
}

#[test]
fn speech_text_reads_links_as_text_and_inline_code() {
    let blocks = md("See [the docs](https://example.org/docs) and run `cargo   build` now.");
    assert_eq!(blocks[0].text, "See the docs and run cargo build now.");
    assert!(blocks[0].html.contains(
        "<a href=\"https://example.org/docs\" rel=\"noopener noreferrer nofollow\">the docs</a>"
    ));
    assert!(blocks[0].html.contains("<code>cargo build</code>"));
}

#[test]
fn footnotes_are_not_read_inline_and_come_last() {
    let blocks =
        md("Claim one.[^a] Claim two.[^b]\n\n[^b]: Second note.\n[^a]: First note.\n\nAfter.");
    assert_invariants(&blocks, 300);
    assert_eq!(blocks[0].text, "Claim one. Claim two.");
    assert!(
        blocks[0]
            .html
            .contains("<sup data-footnote-ref=\"1\">1</sup>")
    );
    assert_eq!(blocks[1].text, "After.");
    let notes: Vec<&Block> = blocks
        .iter()
        .filter(|b| b.kind == BlockKind::Footnote)
        .collect();
    assert_eq!(notes.len(), 2);
    assert_eq!(notes[0].text, "Second note.");
    assert!(
        notes[0]
            .html
            .starts_with("<div data-footnote=\"2\"><p><sup")
    );
    assert!(notes.iter().all(|b| b.speakable && b.idx >= 2));
}

#[test]
fn task_lists_strikethrough_and_inline_math() {
    let blocks = md("- [x] done ~~old~~\n- [ ] todo with $e=mc^2$ inline\n");
    assert_eq!(blocks[0].text, "done old");
    assert!(blocks[0].html.contains("☑") && blocks[0].html.contains("<del>old</del>"));
    assert_eq!(blocks[1].text, "todo with inline");
    assert!(
        blocks[1]
            .html
            .contains("<span data-math=\"inline\">e=mc^2</span>")
    );
}

#[test]
fn sanitiser_strips_scripts_handlers_and_javascript_links() {
    let input = "Hello <script>alert('x')</script> <b onclick=\"steal()\">bold</b> \
                 [click](javascript:alert(1)) <a href=\"javascript:void(0)\">raw</a>\n\n\
                 <div onmouseover=\"x()\"><script>evil()</script><p style=\"color:red\">block html</p></div>\n\n\
                 <script>\nalert(2)\n</script>\n\n\
                 ![x](data:image/svg+xml;base64,PHN2Zz4=)\n";
    let blocks = md(input);
    assert_invariants(&blocks, 300);
    let all: String = blocks.iter().map(|b| b.html.as_str()).collect();
    for bad in [
        "<script",
        "alert",
        "onclick",
        "onmouseover",
        "javascript",
        "style=",
        "data:",
    ] {
        assert!(!all.contains(bad), "{bad} survived in {all}");
    }
    assert!(all.contains("<b>bold</b>"));
    assert!(
        !blocks[0].text.contains("alert"),
        "script text spoken: {}",
        blocks[0].text
    );
    assert_eq!(blocks[0].text, "Hello bold click raw");
    let html_blocks: Vec<&Block> = blocks
        .iter()
        .filter(|b| b.kind == BlockKind::Html)
        .collect();
    assert_eq!(html_blocks.len(), 1, "the lone <script> block is dropped");
    assert!(!html_blocks[0].speakable);
    assert!(html_blocks[0].html.contains("block html"));
}

#[test]
fn long_paragraph_is_split_with_links_reopened() {
    let blocks = md(README);
    assert_invariants(&blocks, 300);
    let long: Vec<&Block> = blocks
        .iter()
        .filter(|b| b.text.starts_with("Most schedulers") || b.html.contains("data-continues"))
        .collect();
    assert!(
        long.len() >= 4,
        "900+ chars need at least 4 pieces: {long:#?}"
    );
    let group = long[0].group;
    assert!(
        long.iter()
            .all(|b| b.group == group && b.kind == BlockKind::Paragraph)
    );
    assert!(!long[0].html.contains("data-continues"));
    assert!(
        long[1..]
            .iter()
            .all(|b| b.html.starts_with("<p data-continues=\"true\">"))
    );
    // Every piece but the last ends a sentence here: the text has enough of them.
    assert!(
        long[..long.len() - 1]
            .iter()
            .all(|b| b.text.ends_with(['.', ':', ',', ';']))
    );

    let unsplit = md_max(README, usize::MAX);
    let original = unsplit
        .iter()
        .find(|b| b.text.starts_with("Most schedulers"))
        .map(|b| b.text.clone())
        .unwrap_or_default();
    assert!(original.chars().count() > 900);
    let joined: Vec<&str> = long.iter().map(|b| b.text.as_str()).collect();
    assert_eq!(joined.join(" "), original);
}

#[test]
fn split_pieces_reproduce_the_original_html() {
    let text = "Intro words here. Then [a link whose text is long enough to be cut, \
                with *emphasis inside it* and more words](https://example.org/a?b=1&c=2) \
                followed by `inline code` and the end.";
    let whole = md_max(text, usize::MAX);
    let pieces = md_max(text, 40);
    assert_invariants(&pieces, 40);
    assert!(pieces.len() > 3);
    let with_link = pieces
        .iter()
        .filter(|b| {
            b.html
                .contains("href=\"https://example.org/a?b=1&amp;c=2\"")
        })
        .count();
    assert!(with_link >= 2, "link reopened in later pieces: {pieces:#?}");
    for piece in &pieces {
        for tag in ["a", "em", "code", "p"] {
            let opens = piece.html.matches(&format!("<{tag}>")).count()
                + piece.html.matches(&format!("<{tag} ")).count();
            assert_eq!(
                opens,
                piece.html.matches(&format!("</{tag}>")).count(),
                "{tag} in {}",
                piece.html
            );
        }
    }
    // Inner HTML of the pieces, concatenated, with the seams' close/reopen
    // pairs removed, is the original paragraph's inner HTML.
    let inner = |html: &str| -> String {
        let start = html.find('>').map_or(0, |i| i + 1);
        let end = html.rfind("</p>").unwrap_or(html.len());
        html[start..end].to_owned()
    };
    let mut joined = String::new();
    for piece in &pieces {
        joined.push_str(&inner(&piece.html));
    }
    let link_open =
        "<a href=\"https://example.org/a?b=1&amp;c=2\" rel=\"noopener noreferrer nofollow\">";
    let seamless = joined
        .replace(&format!("</em></a>{link_open}<em>"), "")
        .replace(&format!("</a>{link_open}"), "");
    assert_eq!(seamless, inner(&whole[0].html));
    let speech: Vec<&str> = pieces.iter().map(|b| b.text.as_str()).collect();
    assert_eq!(speech.join(" "), whole[0].text);
}

#[test]
fn long_words_and_list_items_split_too() {
    let word = "x".repeat(1000);
    let blocks = md(&format!("- {word} tail"));
    assert_invariants(&blocks, 300);
    assert_eq!(blocks.len(), 4);
    assert!(blocks.iter().all(|b| b.kind == BlockKind::ListItem));
    assert!(
        blocks[1]
            .html
            .starts_with("<ul data-continues=\"true\"><li>")
    );
    let text: String = blocks.iter().map(|b| b.text.as_str()).collect();
    assert_eq!(squash(&text), squash(&format!("{word} tail")));
}

#[test]
fn technical_readme_structure() {
    let blocks = md(README);
    assert_invariants(&blocks, 300);
    let count = |k: BlockKind| blocks.iter().filter(|b| b.kind == k).count();
    assert_eq!(count(BlockKind::Code), 2);
    assert_eq!(count(BlockKind::Table), 1);
    assert_eq!(count(BlockKind::Rule), 1);
    assert_eq!(count(BlockKind::Footnote), 2);
    assert_eq!(count(BlockKind::BlockQuote), 1);
    assert!(count(BlockKind::Heading) >= 8);
    assert!(count(BlockKind::ListItem) >= 11);
    // Badges: images without words aren't read.
    assert!(!blocks[1].speakable && blocks[1].html.contains("<img"));
    assert!(
        blocks
            .iter()
            .all(|b| !b.text.contains("[^") && !b.text.contains("]("))
    );
    assert!(blocks.iter().all(|b| !b.text.contains("http")));
    assert_eq!(
        blocks.last().map(|b| b.text.as_str()),
        Some("No contributor licence agreement is required.")
    );
    let table = blocks
        .iter()
        .find(|b| b.kind == BlockKind::Table)
        .map(|b| b.html.as_str())
        .unwrap_or("");
    assert!(table.contains("<th align=\"center\">Default</th>"));
}

#[test]
fn plain_text_is_escaped_not_interpreted() {
    let text = "# not a heading\nsecond *line* <b>x</b>\r\n\r\n   \n\nNext paragraph & more.\n";
    let blocks = plain_text_to_blocks(text, ParseOptions::default());
    assert_invariants(&blocks, 300);
    assert_eq!(kinds(&blocks), [BlockKind::Paragraph, BlockKind::Paragraph]);
    assert_eq!(blocks[0].text, "# not a heading second *line* <b>x</b>");
    assert_eq!(
        blocks[0].html,
        "<p># not a heading<br>second *line* &lt;b&gt;x&lt;/b&gt;</p>"
    );
    assert_eq!(blocks[1].html, "<p>Next paragraph &amp; more.</p>");
    let long = "Sentence number one is here. ".repeat(40);
    let blocks = plain_text_to_blocks(&long, ParseOptions::default());
    assert_invariants(&blocks, 300);
    assert!(blocks.len() > 3);
}

#[test]
fn degenerate_inputs_do_not_panic() {
    for input in [
        "",
        "   \n\t\n",
        "\0\u{1}\u{7f}\u{feff}",
        "#",
        "-",
        ">",
        "[^x]:",
        "$$",
        "<",
        "`",
    ] {
        assert_invariants(&md(input), 300);
        assert_invariants(&plain_text_to_blocks(input, ParseOptions::default()), 300);
    }
    assert!(md("").is_empty());
    assert!(plain_text_to_blocks("  \n\n ", ParseOptions::default()).is_empty());
    assert_invariants(&md_max("Short words. Again here.", 0), 1);
    let garbage: String = (0u32..20_000)
        .map(|i| char::from_u32((i.wrapping_mul(2_654_435_761) >> 7) % 0x2FFF).unwrap_or('?'))
        .collect();
    assert_invariants(&md(&garbage), 300);
    assert_invariants(
        &plain_text_to_blocks(&garbage, ParseOptions::default()),
        300,
    );
}

#[test]
fn deep_nesting_does_not_panic() {
    for input in [
        ">".repeat(50_000) + " deep",
        "- ".repeat(5_000) + "deep",
        "  ".repeat(2_000)
            .chars()
            .enumerate()
            .map(|(i, _)| if i % 2 == 0 { '-' } else { ' ' })
            .collect(),
        "*a ".repeat(20_000),
        "[".repeat(50_000) + &"]".repeat(50_000),
        "<div>".repeat(50_000) + "text",
        "<em>".repeat(50_000) + "text",
    ] {
        let blocks = md(&input);
        assert_invariants(&blocks, 300);
    }
}

#[test]
fn megabyte_inputs_are_linear() {
    let paragraph = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(18_000);
    let started = std::time::Instant::now();
    let blocks = md(&paragraph);
    assert_invariants(&blocks, 300);
    assert!(blocks.len() > 3_000);
    let no_spaces = "y".repeat(1 << 20);
    assert_invariants(&md(&no_spaces), 300);
    assert_invariants(
        &plain_text_to_blocks(&paragraph, ParseOptions::default()),
        300,
    );
    let linked = "[word](https://e.org) ".repeat(40_000);
    assert_invariants(&md(&linked), 300);
    // Generous even for debug builds; quadratic behaviour would take minutes.
    assert!(started.elapsed().as_secs() < 60, "{:?}", started.elapsed());
}

#[test]
fn block_serialises_kind_in_snake_case() {
    let blocks = md("![x](a.png)");
    let json = serde_json::to_value(&blocks[0]).unwrap_or_default();
    assert_eq!(json["kind"], "image_caption");
    assert_eq!(json["speakable"], true);
}

fn base() -> url::Url {
    url::Url::parse("https://news.example.com/2024/05/mill/index.html")
        .unwrap_or_else(|_| unreachable!())
}

#[test]
fn news_article_extraction_keeps_the_article_only() {
    let article = match extract_article(NEWS, &base()) {
        Ok(article) => article,
        Err(e) => panic!("extraction failed: {e}"),
    };
    assert_eq!(
        article.title.as_deref(),
        Some("Harbour town votes to restore its tidal mill")
    );
    let md = &article.markdown;
    for wanted in [
        "The council of Wendmouth voted on Tuesday evening",
        "## A long road to restoration",
        "Councillor David Okafor",
        "generating power by the summer of next year",
        "The mill in 1950, twelve years before it closed",
    ] {
        assert!(md.contains(wanted), "missing {wanted:?} in {md}");
    }
    for unwanted in [
        "cookies",
        "Accept all",
        "Subscribe today",
        "Most read",
        "Ferry timetable",
        "All rights reserved",
        "Privacy notice",
        "Advertisement",
        "dataLayer",
        "tracking.js",
    ] {
        assert!(!md.contains(unwanted), "{unwanted:?} leaked into {md}");
    }
    assert!(md.contains("(https://news.example.com/2024/05/documents/mill-restoration-plan.pdf)"));
    assert!(md.contains("(https://news.example.com/2024/05/mill/images/tidal-mill-1950.jpg)"));

    let blocks = markdown_to_blocks(md, ParseOptions::default());
    assert_invariants(&blocks, 300);
    let figure = blocks.iter().find(|b| b.kind == BlockKind::ImageCaption);
    let figure = figure
        .map(|b| (b.html.as_str(), b.text.as_str()))
        .unwrap_or_default();
    assert!(
        figure
            .0
            .contains("src=\"https://news.example.com/2024/05/mill/images/tidal-mill-1950.jpg\"")
    );
    assert!(figure.1.starts_with("The mill in 1950"));
    assert!(
        blocks
            .iter()
            .any(|b| b.kind == BlockKind::Heading && b.text == "Costs and concerns")
    );
}

#[test]
fn nav_only_page_has_no_readable_text() {
    assert!(matches!(
        extract_article(NAV_ONLY, &base()),
        Err(ExtractError::NoReadableText)
    ));
    for page in [
        "",
        "<html><body></body></html>",
        "<p>Loading…</p>",
        "\0\0<<<>>>&&&",
    ] {
        assert!(matches!(
            extract_article(page, &base()),
            Err(ExtractError::NoReadableText)
        ));
    }
}

#[test]
fn extraction_survives_broken_and_huge_html() {
    let broken = format!(
        "<html><body><article><p>{}<a href=\"/rel\">a relative link</a><b><i></p></b><div><p>{}</article>",
        "Unclosed tags everywhere, but the words are real and there are many of them. ".repeat(10),
        "More text with &amp; entities &bogus; and \u{0} here. ".repeat(10),
    );
    let article = extract_article(&broken, &base());
    let markdown = article.map(|a| a.markdown).unwrap_or_default();
    assert!(markdown.contains("Unclosed tags everywhere"));
    assert!(markdown.contains("https://news.example.com/rel"));
    assert_invariants(&markdown_to_blocks(&markdown, ParseOptions::default()), 300);

    let huge = format!(
        "<html><body><article>{}</article></body></html>",
        "<p>Some text for a paragraph that goes on. </p>".repeat(25_000)
    );
    let started = std::time::Instant::now();
    let _ = extract_article(&huge, &base());
    assert!(matches!(
        extract_article(&"<div>".repeat(100_000), &base()),
        Err(ExtractError::TooDeeplyNested { .. })
    ));
    let _ = extract_article(&"<span>".repeat(900), &base());
    assert!(started.elapsed().as_secs() < 60, "{:?}", started.elapsed());
}

/// Property tests, the fuzzing that fits stable Rust: generated Markdown, HTML pages and plain
/// text never panic the parser, and every result keeps `assert_invariants`. `make fuzz` runs
/// them with many more cases (`PROPTEST_CASES`); a failure it finds is kept as a test above.
mod fuzz {
    use proptest::prelude::*;

    use super::*;

    /// Pieces that exercise the parser's edges, mixed with arbitrary text.
    fn piece() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("# ".to_string()),
            Just("\n\n".to_string()),
            Just("\n".to_string()),
            Just("- ".to_string()),
            Just("1. ".to_string()),
            Just("> ".to_string()),
            Just("```\n".to_string()),
            Just("$$".to_string()),
            Just("$".to_string()),
            Just("| a | b |\n|---|---|\n| 1 | 2 |\n".to_string()),
            Just("[^1]".to_string()),
            Just("[^1]: a note\n".to_string()),
            Just("<div>".to_string()),
            Just("</div>".to_string()),
            Just("<p>".to_string()),
            Just("<script>alert(1)</script>".to_string()),
            Just("<img src=x onclick=alert(1)>".to_string()),
            Just("[link](javascript:alert(1))".to_string()),
            Just("**".to_string()),
            Just("~~".to_string()),
            Just("`".to_string()),
            Just("---\n".to_string()),
            Just("\u{0}".to_string()),
            Just("😀".to_string()),
            Just("日本語の文です。".to_string()),
            Just(". ".to_string()),
            "[a-zA-Z ,;:]{0,80}".prop_map(String::from),
            any::<String>(),
        ]
    }

    fn document() -> impl Strategy<Value = String> {
        prop::collection::vec(piece(), 0..80).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #[test]
        fn any_markdown_becomes_well_formed_blocks(input in document(), max in 1usize..400) {
            assert_invariants(&md_max(&input, max), max.max(1));
        }

        #[test]
        fn any_plain_text_becomes_well_formed_blocks(input in document(), max in 1usize..400) {
            let blocks = plain_text_to_blocks(&input, ParseOptions { max_block_chars: max });
            assert_invariants(&blocks, max.max(1));
        }

        #[test]
        fn any_html_page_is_extracted_or_refused_without_panicking(body in document()) {
            let page = format!("<html><head><title>T</title></head><body><article>{body}</article></body></html>");
            let base = url::Url::parse("https://example.org/a/").unwrap();
            if let Ok(article) = extract_article(&page, &base) {
                assert_invariants(&md(&article.markdown), 300);
            }
        }
    }
}
