//! A cheap, linear estimate of how deeply an HTML string nests, checked
//! before handing HTML to tree-building code. html5ever (under ammonia and
//! dom_smoothie) takes time quadratic in the nesting depth, and
//! dom_smoothie's recursive passes overflow the stack on very deep trees,
//! which aborts the whole process rather than panicking.

/// Elements that never nest (void) or that the HTML parser closes
/// implicitly when a sibling starts, so unclosed ones don't add depth.
const NON_NESTING: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
    "wbr", "param", "keygen", "p", "li", "dt", "dd", "tr", "td", "th", "option", "optgroup",
    "tbody", "thead", "tfoot", "colgroup", "rp", "rt",
];

/// Elements whose content is raw text: tags inside don't count.
const RAW_TEXT: &[&str] = &[
    "script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes",
];

/// Returns `true` when the estimated element nesting exceeds `limit`.
///
/// Overestimates for unclosed non-void elements (each counts as open until
/// the end), which errs on the side of refusing adversarial input.
pub(crate) fn nests_deeper_than(html: &str, limit: usize) -> bool {
    let bytes = html.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(offset) = memchr(b'<', &bytes[i..]) {
        i += offset + 1;
        let rest = &bytes[i..];
        if rest.starts_with(b"!--") {
            i = find(bytes, i + 3, b"-->").map_or(bytes.len(), |end| end + 3);
            continue;
        }
        let closing = rest.first() == Some(&b'/');
        let name_start = i + usize::from(closing);
        let name_len = bytes
            .get(name_start..)
            .unwrap_or_default()
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'-')
            .count();
        if name_len == 0 || !bytes[name_start].is_ascii_alphabetic() {
            continue;
        }
        let name = html
            .get(name_start..name_start + name_len)
            .unwrap_or_default()
            .to_ascii_lowercase();
        let tag_end = memchr(b'>', &bytes[name_start..]).map_or(bytes.len(), |e| name_start + e);
        let self_closing = tag_end > 0 && bytes.get(tag_end - 1) == Some(&b'/');
        i = tag_end.min(bytes.len());
        if NON_NESTING.contains(&name.as_str()) {
            continue;
        }
        if closing {
            depth = depth.saturating_sub(1);
        } else if RAW_TEXT.contains(&name.as_str()) {
            let close = format!("</{name}");
            i = find_ascii_ci(bytes, i, close.as_bytes()).unwrap_or(bytes.len());
        } else if !self_closing {
            depth += 1;
            if depth > limit {
                return true;
            }
        }
    }
    false
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|b| *b == needle)
}

fn find(haystack: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

fn find_ascii_ci(haystack: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
        .map(|p| p + from)
}

#[cfg(test)]
mod tests {
    use super::nests_deeper_than;

    #[test]
    fn counts_real_nesting_only() {
        assert!(nests_deeper_than(&"<div>".repeat(11), 10));
        assert!(!nests_deeper_than(&"<div></div>".repeat(1000), 1));
        assert!(!nests_deeper_than(
            &"<p>text<br><img src=x>".repeat(1000),
            1
        ));
        assert!(!nests_deeper_than(&"<div/>".repeat(100), 1));
        assert!(!nests_deeper_than(
            "<script>'<div><div><div>'</SCRIPT><!-- <div><div> -->",
            1
        ));
        assert!(!nests_deeper_than("a < b, c <3 <", 0));
        assert!(!nests_deeper_than("<é<<\u{0}</", 0));
        assert!(!nests_deeper_than("</", 0));
        assert!(!nests_deeper_than("<", 0));
    }
}
