//! Fetching a web page for a document, with a guard against server-side request forgery.
//!
//! The gateway fetches URLs that users type in, from inside our network. Without a guard a user
//! could make it read `http://169.254.169.254/latest/meta-data` (cloud credentials),
//! `http://localhost:5432/` or any intranet host and show them the answer. So every hop of a
//! fetch (the first request and each redirect) is checked before any connection is made:
//!
//! * only `http` and `https`, and no credentials in the URL;
//! * the host is resolved here, and if ANY of its addresses is loopback, private, link-local,
//!   multicast, unspecified, CGNAT, documentation or otherwise non-public (IPv4-mapped and other
//!   IPv4-embedding IPv6 forms included), the fetch is refused, unless the address lies inside
//!   the explicit allow-list;
//! * the HTTP client then connects only to the addresses validated here: its DNS resolver is a
//!   table filled by the check, so a DNS server that answers "public" to the check and
//!   "127.0.0.1" to the connection (DNS rebinding) gains nothing;
//! * redirects are followed by hand, so each target is checked the same way;
//! * proxies from the environment are ignored, since a proxy would connect on our behalf to
//!   addresses we never saw.
//!
//! The body is streamed and cut off at a size cap, the whole operation (DNS, redirects, body)
//! runs under one timeout, and only text formats we can turn into a document are accepted.

use std::collections::HashMap;
use std::error::Error as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{ACCEPT, CONTENT_TYPE, LOCATION};
use url::{Host, Url};

/// How a fetch behaves; the gateway builds it from its configuration.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// Limit for the whole fetch: DNS, connections, every redirect and the body.
    pub timeout: Duration,
    /// Redirects followed before giving up.
    pub max_redirects: usize,
    /// Largest body accepted, in bytes (before decoding).
    pub max_body_bytes: usize,
    /// Networks that may be reached although they are not public (e.g. `127.0.0.1/32` for a
    /// local fixture server). Empty in production.
    pub allow: Vec<ipnet::IpNet>,
    /// Sent as `User-Agent`; some sites refuse requests without one.
    pub user_agent: String,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(15),
            max_redirects: 5,
            max_body_bytes: 10 * 1024 * 1024,
            allow: Vec::new(),
            user_agent: concat!("yapit/", env!("CARGO_PKG_VERSION"), " (document reader)").into(),
        }
    }
}

/// A fetched page, decoded to text.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The URL after redirects; relative links in the page resolve against it.
    pub final_url: Url,
    pub content_type: ContentKind,
    /// The body decoded to UTF-8 (charset from the header, a BOM or an HTML `<meta>`; bytes that
    /// do not decode become U+FFFD).
    pub body: String,
}

/// The formats a fetched page can be turned into a document from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentKind {
    Html,
    Markdown,
    PlainText,
}

/// Why a fetch failed. The messages are written to be shown to the user.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Not a URL, not http(s), or carries credentials (client error).
    #[error("{0}")]
    InvalidUrl(String),
    /// The SSRF guard refused the host (client error: we will never fetch it). The message
    /// names the kind of address, not the address: a name's internal addresses are the
    /// operator's business (they are logged).
    #[error("refusing to fetch {host}: it resolves to {}", refusal_reason(*.addr))]
    Blocked { host: String, addr: IpAddr },
    /// More redirects than allowed (502).
    #[error("too many redirects (more than {0})")]
    TooManyRedirects(usize),
    /// The body is over the size cap (413).
    #[error("the page is larger than the limit of {limit} bytes")]
    TooLarge { limit: usize },
    /// A content type we cannot make a document from (415).
    #[error("unsupported content type {0}; expected HTML, Markdown or plain text")]
    UnsupportedType(String),
    /// DNS failure, connection failure, non-2xx status, broken redirect (502).
    #[error("{0}")]
    Upstream(String),
    /// The whole fetch took longer than `FetchConfig::timeout` (502).
    #[error("the page did not answer: timed out after {} s", .0.as_secs_f32())]
    Timeout(Duration),
}

/// Fetches `url` under `config`'s limits and the SSRF guard.
pub async fn fetch(config: &FetchConfig, url: &str) -> Result<Fetched, FetchError> {
    // Parsing is cheap and needs no network; doing it outside the timeout means a bad URL is
    // always reported as such.
    let url = parse_url(url)?;
    match tokio::time::timeout(config.timeout, fetch_inner(config, url)).await {
        Ok(result) => result,
        Err(_) => {
            tracing::info!(timeout = ?config.timeout, "fetch timed out");
            Err(FetchError::Timeout(config.timeout))
        }
    }
}

async fn fetch_inner(config: &FetchConfig, mut url: Url) -> Result<Fetched, FetchError> {
    let resolver = Arc::new(ValidatedResolver::default());
    let client = reqwest::Client::builder()
        // Redirects are followed below so that every target passes the guard.
        .redirect(reqwest::redirect::Policy::none())
        // A proxy would make the connection for us, to addresses the guard never saw.
        .no_proxy()
        .dns_resolver(resolver.clone())
        .user_agent(config.user_agent.clone())
        .build()
        .map_err(|e| FetchError::Upstream(format!("could not set up the HTTP client: {e}")))?;

    let mut redirects = 0usize;
    let response = loop {
        guard(config, &url, &resolver).await?;
        tracing::debug!(%url, "fetching");
        let response = client
            .get(url.clone())
            .header(
                ACCEPT,
                "text/html,application/xhtml+xml,text/markdown;q=0.9,text/plain;q=0.8,*/*;q=0.1",
            )
            .send()
            .await
            .map_err(|e| FetchError::Upstream(describe_send_error(&url, &e)))?;

        let status = response.status();
        if !is_redirect(status) {
            break response;
        }
        let Some(location) = response.headers().get(LOCATION) else {
            // A redirect status without a target cannot be followed; report it as the answer.
            break response;
        };
        if redirects >= config.max_redirects {
            return Err(FetchError::TooManyRedirects(config.max_redirects));
        }
        redirects += 1;
        // Some servers send raw UTF-8 in Location; `join` percent-encodes it like browsers do.
        let location = String::from_utf8_lossy(location.as_bytes()).into_owned();
        let next = url.join(&location).map_err(|e| {
            FetchError::Upstream(format!(
                "{url} redirected to an invalid URL {location:?}: {e}"
            ))
        })?;
        // The target is chosen by the remote server, so a bad one is its fault (Upstream), not
        // the user's; the address check in `guard` still reports Blocked.
        check_url_shape(&next)
            .map_err(|why| FetchError::Upstream(format!("{url} redirected to {why}")))?;
        tracing::debug!(from = %url, to = %next, %status, "following redirect");
        url = next;
    };

    let status = response.status();
    if !status.is_success() {
        return Err(FetchError::Upstream(format!("the page answered {status}")));
    }

    let header_type = response
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let media = header_type.as_deref().map(MediaType::parse);
    // Decide on the type before reading the body, so an image or PDF is refused without
    // downloading it. A missing type is decided by sniffing the body below.
    let declared_kind = match &media {
        Some(m) if !m.essence.is_empty() => Some(classify(&m.essence, &url)?),
        _ => None,
    };

    if let Some(len) = response.content_length()
        && len > config.max_body_bytes as u64
    {
        return Err(FetchError::TooLarge {
            limit: config.max_body_bytes,
        });
    }

    let final_url = response.url().clone();
    let bytes = read_capped(response, config.max_body_bytes).await?;

    let kind = match declared_kind {
        Some(kind) => kind,
        None => sniff(&bytes, &final_url)?,
    };
    let charset = media.as_ref().and_then(|m| m.charset.clone());
    let body = decode(&bytes, charset.as_deref(), kind == ContentKind::Html);
    Ok(Fetched {
        final_url,
        content_type: kind,
        body,
    })
}

fn is_redirect(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::MOVED_PERMANENTLY
            | StatusCode::FOUND
            | StatusCode::SEE_OTHER
            | StatusCode::TEMPORARY_REDIRECT
            | StatusCode::PERMANENT_REDIRECT
    )
}

/// Streams the body, giving up as soon as it passes `limit` (a missing or lying
/// Content-Length must not let a server make us buffer without bound).
async fn read_capped(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, FetchError> {
    let mut body = Vec::new();
    loop {
        let chunk = response
            .chunk()
            .await
            .map_err(|e| FetchError::Upstream(format!("reading the page failed: {}", chain(&e))))?;
        let Some(chunk) = chunk else {
            return Ok(body);
        };
        if body.len().saturating_add(chunk.len()) > limit {
            return Err(FetchError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
}

// ---------------------------------------------------------------------------------------------
// URL checks and the address guard
// ---------------------------------------------------------------------------------------------

fn parse_url(input: &str) -> Result<Url, FetchError> {
    let input = input.trim();
    let url = Url::parse(input).map_err(|e| FetchError::InvalidUrl(format!("not a URL: {e}")))?;
    check_url_shape(&url).map_err(FetchError::InvalidUrl)?;
    Ok(url)
}

/// Scheme, credentials and host; the part of the check that needs no DNS.
fn check_url_shape(url: &Url) -> Result<(), String> {
    match url.scheme() {
        "http" | "https" => {}
        other => {
            return Err(format!(
                "a {other}: URL; only http and https can be fetched"
            ));
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("a URL with credentials (user:password@), which is not fetched".into());
    }
    if url.host().is_none() {
        return Err("a URL without a host".into());
    }
    Ok(())
}

/// Resolves the URL's host, refuses it if any address is not public (and not allowed), and
/// records the addresses for the client's resolver so it connects to exactly these.
async fn guard(
    config: &FetchConfig,
    url: &Url,
    resolver: &ValidatedResolver,
) -> Result<(), FetchError> {
    let port = url.port_or_known_default().unwrap_or(80);
    let host = url
        .host()
        .ok_or_else(|| FetchError::InvalidUrl("a URL without a host".into()))?;
    match host {
        // The url crate has already normalised decimal, hex and short IPv4 forms
        // (`2130706433`, `0x7f.1`) to dotted quads; the client connects to a literal address
        // without asking the resolver, so checking it here is enough.
        Host::Ipv4(v4) => check_addr(config, &v4.to_string(), IpAddr::V4(v4)),
        Host::Ipv6(v6) => check_addr(config, &v6.to_string(), IpAddr::V6(v6)),
        Host::Domain(domain) => {
            let addrs: Vec<IpAddr> = tokio::net::lookup_host((domain, port))
                .await
                .map_err(|e| FetchError::Upstream(format!("could not resolve {domain}: {e}")))?
                .map(|sa| sa.ip())
                .collect();
            if addrs.is_empty() {
                return Err(FetchError::Upstream(format!("{domain} has no addresses")));
            }
            // ANY bad address refuses the host: the client could pick any of them.
            for &addr in &addrs {
                check_addr(config, domain, addr)?;
            }
            resolver.insert(domain, addrs);
            Ok(())
        }
    }
}

fn check_addr(config: &FetchConfig, host: &str, addr: IpAddr) -> Result<(), FetchError> {
    // `::ffff:127.0.0.1` reaches 127.0.0.1, so judge (and allow) it as the IPv4 address.
    let canonical = addr.to_canonical();
    let allowed = config
        .allow
        .iter()
        .any(|net| net.contains(&addr) || net.contains(&canonical));
    if allowed || refusal(addr).is_none() {
        return Ok(());
    }
    tracing::warn!(host, %addr, "fetch refused by the SSRF guard");
    Err(FetchError::Blocked {
        host: host.to_string(),
        addr,
    })
}

fn refusal_reason(addr: IpAddr) -> &'static str {
    refusal(addr).unwrap_or("a non-public address")
}

/// Why `addr` must not be fetched from, or None when it is a public address.
fn refusal(addr: IpAddr) -> Option<&'static str> {
    match addr {
        IpAddr::V4(v4) => refusal_v4(v4),
        IpAddr::V6(v6) => refusal_v6(v6),
    }
}

/// Non-public IPv4 networks (IANA special-purpose registry, plus multicast and reserved).
const V4_REFUSED: &[([u8; 4], u8, &str)] = &[
    ([0, 0, 0, 0], 8, "an unspecified (\"this network\") address"),
    ([10, 0, 0, 0], 8, "a private address"),
    ([100, 64, 0, 0], 10, "a shared (CGNAT) address"),
    ([127, 0, 0, 0], 8, "a loopback address"),
    (
        [169, 254, 0, 0],
        16,
        "a link-local (cloud metadata) address",
    ),
    ([172, 16, 0, 0], 12, "a private address"),
    ([192, 0, 0, 0], 24, "an IETF protocol address"),
    ([192, 0, 2, 0], 24, "a documentation address"),
    ([192, 88, 99, 0], 24, "a 6to4 relay address"),
    ([192, 168, 0, 0], 16, "a private address"),
    ([198, 18, 0, 0], 15, "a benchmarking address"),
    ([198, 51, 100, 0], 24, "a documentation address"),
    ([203, 0, 113, 0], 24, "a documentation address"),
    ([224, 0, 0, 0], 4, "a multicast address"),
    // 240/4 is reserved and holds the broadcast address 255.255.255.255.
    ([240, 0, 0, 0], 4, "a reserved or broadcast address"),
];

fn refusal_v4(addr: Ipv4Addr) -> Option<&'static str> {
    let bits = u32::from(addr);
    V4_REFUSED.iter().find_map(|&(net, prefix, why)| {
        let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
        (bits & mask == u32::from_be_bytes(net) & mask).then_some(why)
    })
}

/// Non-public IPv6 networks that do not embed an IPv4 address (those are handled apart).
const V6_REFUSED: &[([u16; 8], u8, &str)] = &[
    ([0x0100, 0, 0, 0, 0, 0, 0, 0], 64, "a discard-only address"),
    (
        [0x0064, 0xff9b, 1, 0, 0, 0, 0, 0],
        48,
        "a local-use NAT64 address",
    ),
    // Teredo (2001::/32) tunnels to an obfuscated IPv4 address; ORCHID and other 2001:0::/23
    // assignments are not ordinary hosts either.
    (
        [0x2001, 0, 0, 0, 0, 0, 0, 0],
        23,
        "an IETF protocol address",
    ),
    (
        [0x2001, 0x0db8, 0, 0, 0, 0, 0, 0],
        32,
        "a documentation address",
    ),
    ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, "a documentation address"),
    (
        [0xfc00, 0, 0, 0, 0, 0, 0, 0],
        7,
        "a private (unique local) address",
    ),
    ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "a link-local address"),
    ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, "a site-local address"),
    ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "a multicast address"),
];

fn refusal_v6(addr: Ipv6Addr) -> Option<&'static str> {
    if addr.is_unspecified() {
        return Some("an unspecified address");
    }
    if addr.is_loopback() {
        return Some("a loopback address");
    }
    let bits = u128::from(addr);
    let seg = addr.segments();
    // Forms that carry an IPv4 address a packet may end up at: judge that address.
    // ::ffff:a.b.c.d (mapped), ::ffff:0:a.b.c.d (translated, RFC 2765) and ::a.b.c.d
    // (deprecated "compatible").
    if bits >> 32 == 0xffff || bits >> 32 == 0xffff_0000 || bits >> 32 == 0 {
        return refusal_v4(Ipv4Addr::from(bits as u32));
    }
    // 64:ff9b::a.b.c.d, the well-known NAT64 prefix: a NAT64 gateway forwards to a.b.c.d.
    if bits >> 32 == 0x0064_ff9b_0000_0000_0000_0000 {
        return refusal_v4(Ipv4Addr::from(bits as u32));
    }
    // 2002:aabb:ccdd::/48 is 6to4 for aa.bb.cc.dd.
    if seg[0] == 0x2002 {
        let embedded = (u32::from(seg[1]) << 16) | u32::from(seg[2]);
        return refusal_v4(Ipv4Addr::from(embedded));
    }
    V6_REFUSED.iter().find_map(|&(net, prefix, why)| {
        let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
        (bits & mask == u128::from(Ipv6Addr::from(net)) & mask).then_some(why)
    })
}

/// The client's resolver: it answers only with addresses `guard` has validated for this fetch,
/// and fails for any other name, so the client never does a DNS lookup of its own.
#[derive(Default)]
struct ValidatedResolver {
    hosts: Mutex<HashMap<String, Vec<IpAddr>>>,
}

impl ValidatedResolver {
    fn insert(&self, host: &str, addrs: Vec<IpAddr>) {
        // A poisoned lock only means another thread panicked mid-insert; the map is still a
        // valid map, so keep using it rather than panicking too.
        let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        hosts.insert(host.to_ascii_lowercase(), addrs);
    }

    fn get(&self, host: &str) -> Option<Vec<IpAddr>> {
        let hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        hosts.get(&host.to_ascii_lowercase()).cloned()
    }
}

impl Resolve for ValidatedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let found = self.get(name.as_str());
        let name = name.as_str().to_string();
        Box::pin(async move {
            match found {
                // The connector replaces port 0 with the URL's port.
                Some(addrs) => {
                    let addrs: Addrs = Box::new(
                        addrs
                            .into_iter()
                            .map(|ip| SocketAddr::new(ip, 0))
                            .collect::<Vec<_>>()
                            .into_iter(),
                    );
                    Ok(addrs)
                }
                None => Err(format!("{name} was not validated before connecting").into()),
            }
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Content type and decoding
// ---------------------------------------------------------------------------------------------

struct MediaType {
    /// `type/subtype`, lower case, no parameters.
    essence: String,
    charset: Option<String>,
}

impl MediaType {
    fn parse(header: &str) -> Self {
        let mut parts = header.split(';');
        let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let charset = parts.find_map(|param| {
            let (key, value) = param.split_once('=')?;
            key.trim().eq_ignore_ascii_case("charset").then(|| {
                value
                    .trim()
                    .trim_matches(|c| c == '"' || c == '\'')
                    .to_string()
            })
        });
        Self { essence, charset }
    }
}

fn has_markdown_path(url: &Url) -> bool {
    let path = url.path().to_ascii_lowercase();
    path.ends_with(".md") || path.ends_with(".markdown")
}

fn classify(essence: &str, url: &Url) -> Result<ContentKind, FetchError> {
    match essence {
        "text/html" | "application/xhtml+xml" => Ok(ContentKind::Html),
        "text/markdown" | "text/x-markdown" => Ok(ContentKind::Markdown),
        // Raw file hosts serve Markdown as text/plain; the extension tells us better.
        "text/plain" if has_markdown_path(url) => Ok(ContentKind::Markdown),
        "text/plain" => Ok(ContentKind::PlainText),
        other => Err(FetchError::UnsupportedType(other.to_string())),
    }
}

/// The type of a body served without a Content-Type.
fn sniff(bytes: &[u8], url: &Url) -> Result<ContentKind, FetchError> {
    let head = &bytes[..bytes.len().min(1024)];
    let head = String::from_utf8_lossy(head).to_ascii_lowercase();
    let trimmed = head.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with("<!doctype html")
        || trimmed.starts_with("<html")
        || head.contains("<html")
    {
        return Ok(ContentKind::Html);
    }
    if std::str::from_utf8(bytes).is_ok() && !bytes.contains(&0) {
        if has_markdown_path(url) {
            return Ok(ContentKind::Markdown);
        }
        return Ok(ContentKind::PlainText);
    }
    Err(FetchError::UnsupportedType(
        "(none; the body does not look like text)".into(),
    ))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Charset {
    Utf8,
    Windows1252,
    Utf16Le,
    Utf16Be,
}

/// Maps a charset label to what we can decode. Per the WHATWG Encoding standard, ASCII and
/// Latin-1 labels mean windows-1252. Anything else (Shift_JIS, KOI8-R, ...) is not supported
/// without an encoding library and falls back to lossy UTF-8.
fn charset_from_label(label: &str) -> Option<Charset> {
    match label.trim().to_ascii_lowercase().as_str() {
        "utf-8" | "utf8" | "unicode-1-1-utf-8" | "unicode11utf8" | "unicode20utf8" => {
            Some(Charset::Utf8)
        }
        "us-ascii" | "ascii" | "ansi_x3.4-1968" | "iso-8859-1" | "iso8859-1" | "iso_8859-1"
        | "latin1" | "l1" | "cp819" | "ibm819" | "windows-1252" | "cp1252" | "x-cp1252" => {
            Some(Charset::Windows1252)
        }
        "utf-16" | "utf-16le" => Some(Charset::Utf16Le),
        "utf-16be" => Some(Charset::Utf16Be),
        _ => None,
    }
}

/// Finds `<meta charset=...>` or `<meta http-equiv=... content="...; charset=...">` near the
/// start of an HTML page, the way browsers pre-scan.
fn meta_charset(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(2048)];
    let head = String::from_utf8_lossy(head).to_ascii_lowercase();
    let mut rest = head.as_str();
    while let Some(start) = rest.find("<meta") {
        let tag = &rest[start..];
        let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
        if let Some(pos) = tag.find("charset") {
            let value = tag[pos + "charset".len()..]
                .trim_start()
                .strip_prefix('=')
                .map(|v| v.trim_start().trim_start_matches(['"', '\'']));
            if let Some(value) = value {
                let end = value
                    .find(|c: char| !(c.is_ascii_alphanumeric() || "-_.:".contains(c)))
                    .unwrap_or(value.len());
                if end > 0 {
                    return Some(value[..end].to_string());
                }
            }
        }
        rest = &rest[start + "<meta".len()..];
    }
    None
}

fn decode(bytes: &[u8], header_charset: Option<&str>, is_html: bool) -> String {
    // A byte-order mark wins over labels, as in browsers.
    if let Some(rest) = bytes.strip_prefix(b"\xef\xbb\xbf") {
        return String::from_utf8_lossy(rest).into_owned();
    }
    if let Some(rest) = bytes.strip_prefix(b"\xff\xfe") {
        return decode_utf16(rest, false);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xfe\xff") {
        return decode_utf16(rest, true);
    }
    let label = header_charset
        .map(str::to_string)
        .or_else(|| is_html.then(|| meta_charset(bytes)).flatten());
    let charset = match label.as_deref() {
        None => Charset::Utf8,
        Some(label) => charset_from_label(label).unwrap_or_else(|| {
            tracing::debug!(label, "unsupported charset; decoding as UTF-8");
            Charset::Utf8
        }),
    };
    match charset {
        Charset::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
        Charset::Windows1252 => bytes.iter().map(|&b| windows_1252(b)).collect(),
        // A `<meta charset=utf-16>` in a page that reached us as ASCII-compatible bytes is a
        // lie (the tag could not have been read otherwise); browsers then use UTF-8.
        Charset::Utf16Le | Charset::Utf16Be if header_charset.is_none() => {
            String::from_utf8_lossy(bytes).into_owned()
        }
        Charset::Utf16Le => decode_utf16(bytes, false),
        Charset::Utf16Be => decode_utf16(bytes, true),
    }
}

fn decode_utf16(bytes: &[u8], big_endian: bool) -> String {
    let units = bytes.chunks(2).map(|pair| match *pair {
        [a, b] if big_endian => u16::from_be_bytes([a, b]),
        [a, b] => u16::from_le_bytes([a, b]),
        // A trailing odd byte cannot be a code unit; make it a replacement character.
        _ => 0xfffd,
    });
    char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

fn windows_1252(byte: u8) -> char {
    const HIGH: [char; 32] = [
        '\u{20ac}', '\u{81}', '\u{201a}', '\u{192}', '\u{201e}', '\u{2026}', '\u{2020}',
        '\u{2021}', '\u{2c6}', '\u{2030}', '\u{160}', '\u{2039}', '\u{152}', '\u{8d}', '\u{17d}',
        '\u{8f}', '\u{90}', '\u{2018}', '\u{2019}', '\u{201c}', '\u{201d}', '\u{2022}', '\u{2013}',
        '\u{2014}', '\u{2dc}', '\u{2122}', '\u{161}', '\u{203a}', '\u{153}', '\u{9d}', '\u{17e}',
        '\u{178}',
    ];
    match byte {
        0x80..=0x9f => HIGH[usize::from(byte - 0x80)],
        _ => char::from(byte),
    }
}

// ---------------------------------------------------------------------------------------------
// Error text
// ---------------------------------------------------------------------------------------------

/// reqwest's own message ("error sending request for url") hides the cause in its source chain.
fn chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn describe_send_error(url: &Url, error: &reqwest::Error) -> String {
    let host = url.host_str().unwrap_or("the host");
    if error.is_connect() {
        format!("could not connect to {host}: {}", chain(error))
    } else {
        format!("fetching {url} failed: {}", chain(error))
    }
}

#[cfg(test)]
mod tests {
    //! The fixture is a raw HTTP/1.1 server on 127.0.0.1 written with tokio's socket calls
    //! alone: the tests need exact control over the bytes (no Content-Type at all, chunked
    //! bodies without Content-Length, a server that never answers), and it adds no dependencies.
    //! No test sends traffic anywhere but loopback: refused addresses must fail before connecting.

    use super::*;
    use std::io::ErrorKind;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;
    use tokio::net::{TcpListener, TcpStream};

    /// One step of a fixture's answer.
    enum Step {
        Send(Vec<u8>),
        Sleep(Duration),
    }

    type Routes = dyn Fn(&str, u16) -> Vec<Step> + Send + Sync;

    struct Fixture {
        port: u16,
        hits: Arc<AtomicUsize>,
    }

    impl Fixture {
        fn url(&self, path: &str) -> String {
            format!("http://127.0.0.1:{}{path}", self.port)
        }
    }

    async fn serve(routes: impl Fn(&str, u16) -> Vec<Step> + Send + Sync + 'static) -> Fixture {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("local addr").port();
        let hits = Arc::new(AtomicUsize::new(0));
        let routes: Arc<Routes> = Arc::new(routes);
        let counter = hits.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let routes = routes.clone();
                tokio::spawn(async move {
                    let Ok(path) = read_request_path(&stream).await else {
                        return;
                    };
                    for step in routes(&path, port) {
                        match step {
                            Step::Send(bytes) => {
                                if write_all(&stream, &bytes).await.is_err() {
                                    return;
                                }
                            }
                            Step::Sleep(d) => tokio::time::sleep(d).await,
                        }
                    }
                });
            }
        });
        Fixture { port, hits }
    }

    async fn read_request_path(stream: &TcpStream) -> std::io::Result<String> {
        let mut head = Vec::new();
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            stream.readable().await?;
            let mut buf = [0u8; 2048];
            match stream.try_read(&mut buf) {
                Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
                Ok(n) => head.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
        let head = String::from_utf8_lossy(&head);
        // "GET /path HTTP/1.1"
        Ok(head.split_whitespace().nth(1).unwrap_or("/").to_string())
    }

    async fn write_all(stream: &TcpStream, mut bytes: &[u8]) -> std::io::Result<()> {
        while !bytes.is_empty() {
            stream.writable().await?;
            match stream.try_write(bytes) {
                Ok(n) => bytes = &bytes[n..],
                Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// A complete response with Content-Length; `content_type` None sends no Content-Type.
    fn respond(status: &str, content_type: Option<&str>, extra: &str, body: &[u8]) -> Vec<Step> {
        let mut head = format!("HTTP/1.1 {status}\r\nConnection: close\r\n{extra}");
        if let Some(ct) = content_type {
            head.push_str(&format!("Content-Type: {ct}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body);
        vec![Step::Send(bytes)]
    }

    fn redirect(to: &str) -> Vec<Step> {
        respond("302 Found", None, &format!("Location: {to}\r\n"), b"")
    }

    fn not_found() -> Vec<Step> {
        respond("404 Not Found", Some("text/plain"), "", b"nothing here")
    }

    fn config() -> FetchConfig {
        FetchConfig {
            timeout: Duration::from_secs(10),
            allow: vec!["127.0.0.1/32".parse().expect("cidr")],
            ..FetchConfig::default()
        }
    }

    fn closed_config() -> FetchConfig {
        FetchConfig {
            allow: Vec::new(),
            ..config()
        }
    }

    #[tokio::test]
    async fn fetches_html() {
        let fx = serve(|path, _| match path {
            "/page" => respond(
                "200 OK",
                Some("text/html; charset=utf-8"),
                "",
                "<!doctype html><p>Grüße</p>".as_bytes(),
            ),
            _ => not_found(),
        })
        .await;
        let got = fetch(&config(), &fx.url("/page")).await.expect("fetch");
        assert_eq!(got.content_type, ContentKind::Html);
        assert_eq!(got.body, "<!doctype html><p>Grüße</p>");
        assert_eq!(got.final_url.as_str(), fx.url("/page"));
    }

    #[tokio::test]
    async fn fetches_markdown_and_plain_text() {
        let fx = serve(|path, _| match path {
            "/a" => respond("200 OK", Some("text/markdown"), "", b"# Title"),
            "/b" => respond("200 OK", Some("text/x-markdown; charset=UTF-8"), "", b"# B"),
            "/c.txt" => respond("200 OK", Some("text/plain"), "", b"plain"),
            "/README.md" => respond("200 OK", Some("text/plain; charset=utf-8"), "", b"# R"),
            "/xhtml" => respond("200 OK", Some("application/xhtml+xml"), "", b"<html/>"),
            _ => not_found(),
        })
        .await;
        let cases = [
            ("/a", ContentKind::Markdown, "# Title"),
            ("/b", ContentKind::Markdown, "# B"),
            ("/c.txt", ContentKind::PlainText, "plain"),
            ("/README.md", ContentKind::Markdown, "# R"),
            ("/xhtml", ContentKind::Html, "<html/>"),
        ];
        for (path, kind, body) in cases {
            let got = fetch(&config(), &fx.url(path)).await.expect(path);
            assert_eq!(got.content_type, kind, "{path}");
            assert_eq!(got.body, body, "{path}");
        }
    }

    #[tokio::test]
    async fn sniffs_a_missing_content_type() {
        let fx = serve(|path, _| match path {
            "/html" => respond("200 OK", None, "", b"  <!DOCTYPE html><html>x</html>"),
            "/text" => respond("200 OK", None, "", b"just words"),
            "/notes.md" => respond("200 OK", None, "", b"# notes"),
            "/binary" => respond("200 OK", None, "", b"\x89PNG\r\n\x1a\n\x00\xff"),
            _ => not_found(),
        })
        .await;
        let html = fetch(&config(), &fx.url("/html")).await.expect("html");
        assert_eq!(html.content_type, ContentKind::Html);
        let text = fetch(&config(), &fx.url("/text")).await.expect("text");
        assert_eq!(text.content_type, ContentKind::PlainText);
        let md = fetch(&config(), &fx.url("/notes.md")).await.expect("md");
        assert_eq!(md.content_type, ContentKind::Markdown);
        let bin = fetch(&config(), &fx.url("/binary")).await;
        assert!(
            matches!(bin, Err(FetchError::UnsupportedType(_))),
            "{bin:?}"
        );
    }

    #[tokio::test]
    async fn refuses_images_and_pdfs() {
        let fx = serve(|path, _| match path {
            "/img" => respond("200 OK", Some("image/png"), "", b"\x89PNG"),
            "/pdf" => respond("200 OK", Some("Application/PDF"), "", b"%PDF-1.7"),
            _ => not_found(),
        })
        .await;
        let err = fetch(&config(), &fx.url("/img")).await.expect_err("png");
        assert!(
            matches!(&err, FetchError::UnsupportedType(t) if t == "image/png"),
            "{err:?}"
        );
        assert!(err.to_string().contains("image/png"));
        let err = fetch(&config(), &fx.url("/pdf")).await.expect_err("pdf");
        assert!(matches!(&err, FetchError::UnsupportedType(t) if t == "application/pdf"));
    }

    #[tokio::test]
    async fn non_2xx_is_upstream_naming_the_status() {
        let fx = serve(|path, _| match path {
            "/boom" => respond("500 Internal Server Error", Some("text/html"), "", b"oops"),
            _ => not_found(),
        })
        .await;
        let err = fetch(&config(), &fx.url("/missing"))
            .await
            .expect_err("404");
        assert!(
            matches!(&err, FetchError::Upstream(m) if m.contains("404 Not Found")),
            "{err:?}"
        );
        assert_eq!(err.to_string(), "the page answered 404 Not Found");
        let err = fetch(&config(), &fx.url("/boom")).await.expect_err("500");
        assert!(
            err.to_string().contains("500 Internal Server Error"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn follows_a_redirect_chain() {
        let fx = serve(|path, port| match path {
            // Absolute, root-relative and path-relative Locations.
            "/r1" => redirect(&format!("http://127.0.0.1:{port}/r2")),
            "/r2" => redirect("/dir/r3"),
            "/dir/r3" => redirect("final"),
            "/dir/final" => respond("200 OK", Some("text/plain"), "", b"done"),
            _ => not_found(),
        })
        .await;
        let got = fetch(&config(), &fx.url("/r1")).await.expect("fetch");
        assert_eq!(got.final_url.as_str(), fx.url("/dir/final"));
        assert_eq!(got.body, "done");
    }

    #[tokio::test]
    async fn too_many_redirects() {
        // /r/6 -> /r/5 -> ... -> /r/0, which answers: six redirects.
        let fx = serve(|path, _| {
            let n: usize = path.trim_start_matches("/r/").parse().unwrap_or(0);
            if n == 0 {
                respond("200 OK", Some("text/plain"), "", b"end")
            } else {
                redirect(&format!("/r/{}", n - 1))
            }
        })
        .await;
        let err = fetch(&config(), &fx.url("/r/6")).await.expect_err("six");
        assert!(matches!(err, FetchError::TooManyRedirects(5)), "{err:?}");
        // Exactly five is fine.
        let got = fetch(&config(), &fx.url("/r/5")).await.expect("five");
        assert_eq!(got.body, "end");
    }

    #[tokio::test]
    async fn body_over_the_cap_is_too_large() {
        let fx = serve(|path, _| match path {
            "/declared" => respond("200 OK", Some("text/plain"), "", &[b'a'; 2000]),
            "/chunked" => {
                let mut head = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
                for _ in 0..20 {
                    head.extend_from_slice(b"64\r\n");
                    head.extend_from_slice(&[b'b'; 100]);
                    head.extend_from_slice(b"\r\n");
                }
                head.extend_from_slice(b"0\r\n\r\n");
                vec![Step::Send(head)]
            }
            "/small" => respond("200 OK", Some("text/plain"), "", &[b'c'; 1000]),
            _ => not_found(),
        })
        .await;
        let cfg = FetchConfig {
            max_body_bytes: 1000,
            ..config()
        };
        let err = fetch(&cfg, &fx.url("/declared"))
            .await
            .expect_err("declared");
        assert!(
            matches!(err, FetchError::TooLarge { limit: 1000 }),
            "{err:?}"
        );
        let err = fetch(&cfg, &fx.url("/chunked")).await.expect_err("chunked");
        assert!(
            matches!(err, FetchError::TooLarge { limit: 1000 }),
            "{err:?}"
        );
        let ok = fetch(&cfg, &fx.url("/small"))
            .await
            .expect("exactly the cap");
        assert_eq!(ok.body.len(), 1000);
    }

    #[tokio::test]
    async fn endless_body_stops_at_the_cap() {
        // Chunks forever: the fetch must stop reading once past the cap, not wait for the end.
        let fx = serve(|_, _| {
            let mut steps = vec![Step::Send(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
                    .to_vec(),
            )];
            for _ in 0..10_000 {
                let mut chunk = b"400\r\n".to_vec();
                chunk.extend_from_slice(&[b'z'; 1024]);
                chunk.extend_from_slice(b"\r\n");
                steps.push(Step::Send(chunk));
                steps.push(Step::Sleep(Duration::from_millis(1)));
            }
            steps
        })
        .await;
        let cfg = FetchConfig {
            max_body_bytes: 64 * 1024,
            ..config()
        };
        let started = Instant::now();
        let err = fetch(&cfg, &fx.url("/")).await.expect_err("endless");
        assert!(matches!(err, FetchError::TooLarge { .. }), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn slow_server_times_out() {
        let fx = serve(|path, _| match path {
            "/silent" => vec![Step::Sleep(Duration::from_secs(30))],
            // Headers at once, then the body trickles: the timeout covers the body too.
            "/trickle" => {
                let mut steps = vec![Step::Send(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n"
                        .to_vec(),
                )];
                for _ in 0..100 {
                    steps.push(Step::Send(b"x".to_vec()));
                    steps.push(Step::Sleep(Duration::from_millis(100)));
                }
                steps
            }
            _ => not_found(),
        })
        .await;
        let cfg = FetchConfig {
            timeout: Duration::from_millis(300),
            ..config()
        };
        for path in ["/silent", "/trickle"] {
            let started = Instant::now();
            let err = fetch(&cfg, &fx.url(path)).await.expect_err(path);
            assert!(matches!(err, FetchError::Timeout(_)), "{path}: {err:?}");
            assert!(started.elapsed() < Duration::from_secs(3), "{path}");
        }
    }

    #[tokio::test]
    async fn guard_refuses_non_public_hosts_without_connecting() {
        // Nothing listens at most of these, and nothing may be sent to the non-loopback ones:
        // each must be refused before a connection, quickly, as Blocked (not Timeout/Upstream).
        let fx = serve(|_, _| respond("200 OK", Some("text/plain"), "", b"secret")).await;
        let port = fx.port;
        let urls = [
            format!("http://127.0.0.1:{port}/"),
            format!("http://localhost:{port}/"),
            format!("http://[::1]:{port}/"),
            format!("http://[::ffff:127.0.0.1]:{port}/"),
            format!("http://2130706433:{port}/"),
            format!("http://0x7f.1:{port}/"),
            format!("http://127.1:{port}/"),
            "http://0.0.0.0/".to_string(),
            "http://[::]/".to_string(),
            "http://10.0.0.1/".to_string(),
            "http://169.254.169.254/latest/meta-data/".to_string(),
            "https://192.168.1.1/".to_string(),
            "http://172.16.5.4/".to_string(),
            "http://100.64.0.1/".to_string(),
            "http://[fe80::1]/".to_string(),
            "http://[fd00::1]/".to_string(),
            "http://[ff02::1]/".to_string(),
            "http://[64:ff9b::a9fe:a9fe]/".to_string(),
            "http://[::ffff:0:a9fe:a9fe]/".to_string(),
            format!("http://[::ffff:0:7f00:1]:{port}/"),
            "http://255.255.255.255/".to_string(),
        ];
        let cfg = FetchConfig {
            timeout: Duration::from_secs(10),
            ..closed_config()
        };
        for url in &urls {
            let started = Instant::now();
            let err = fetch(&cfg, url).await.expect_err(url);
            assert!(matches!(err, FetchError::Blocked { .. }), "{url}: {err:?}");
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "{url} took too long"
            );
        }
        assert_eq!(
            fx.hits.load(Ordering::SeqCst),
            0,
            "the fixture was contacted"
        );
        let err = fetch(&cfg, "http://169.254.169.254/")
            .await
            .expect_err("metadata");
        let text = err.to_string();
        assert!(
            text.contains("169.254.169.254") && text.contains("link-local"),
            "{text}"
        );
        let err = fetch(&cfg, &fx.url("/")).await.expect_err("loopback");
        assert!(err.to_string().contains("loopback"), "{err}");
        // A name's internal addresses are not told to the user.
        let err = fetch(&cfg, &format!("http://localhost:{port}/"))
            .await
            .expect_err("localhost");
        let text = err.to_string();
        assert!(
            text.contains("loopback") && !text.contains("127.0.0.1") && !text.contains("::1"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn allow_list_is_exact() {
        // 127.0.0.1/32 allowed does not open the rest of 127/8.
        let fx = serve(|_, _| respond("200 OK", Some("text/plain"), "", b"hi")).await;
        let err = fetch(&config(), &format!("http://127.0.0.2:{}/", fx.port))
            .await
            .expect_err("127.0.0.2");
        assert!(matches!(err, FetchError::Blocked { .. }), "{err:?}");
        // The allowed address itself works.
        let got = fetch(&config(), &fx.url("/")).await.expect("allowed");
        assert_eq!(got.body, "hi");
        assert_eq!(fx.hits.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn names_go_through_the_validated_resolver() {
        // A name (not a literal) is resolved by the guard and connected to through the
        // client's resolver table; allow whatever loopback forms `localhost` has here.
        let fx = serve(|_, _| respond("200 OK", Some("text/plain"), "", b"via name")).await;
        let cfg = FetchConfig {
            allow: vec![
                "127.0.0.1/32".parse().expect("cidr"),
                "::1/128".parse().expect("cidr"),
            ],
            ..config()
        };
        // The fixture listens on IPv4 only; if `localhost` also means ::1 the client may try
        // that first and fall back, which is fine.
        let got = fetch(&cfg, &format!("http://localhost:{}/x", fx.port))
            .await
            .expect("localhost");
        assert_eq!(got.body, "via name");
        assert_eq!(got.final_url.host_str(), Some("localhost"));
    }

    #[tokio::test]
    async fn resolver_refuses_names_the_guard_did_not_check() {
        let resolver = ValidatedResolver::default();
        let name: Name = "example.com".parse().expect("name");
        assert!(resolver.resolve(name).await.is_err());
        resolver.insert(
            "Example.COM",
            vec![IpAddr::V4(Ipv4Addr::new(93, 184, 216, 34))],
        );
        let name: Name = "example.com".parse().expect("name");
        let addrs: Vec<SocketAddr> = resolver.resolve(name).await.expect("known").collect();
        assert_eq!(addrs, vec!["93.184.216.34:0".parse().expect("addr")]);
    }

    #[tokio::test]
    async fn client_never_resolves_names_itself() {
        // The anti-rebinding property: a client built like the one in `fetch_inner` cannot
        // reach a name that is missing from its resolver table, even one the system resolves.
        let fx = serve(|_, _| respond("200 OK", Some("text/plain"), "", b"no")).await;
        let client = reqwest::Client::builder()
            .no_proxy()
            .dns_resolver(Arc::new(ValidatedResolver::default()))
            .build()
            .expect("client");
        let result = client
            .get(format!("http://localhost:{}/", fx.port))
            .send()
            .await;
        assert!(result.is_err(), "{result:?}");
        assert_eq!(fx.hits.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn redirect_to_a_refused_host_is_blocked() {
        let fx = serve(|path, port| match path {
            "/to-private" => redirect("http://10.0.0.1/"),
            "/to-metadata" => redirect("http://169.254.169.254/latest/meta-data"),
            "/to-other-loopback" => redirect(&format!("http://127.0.0.2:{port}/")),
            "/to-ipv6-loopback" => redirect(&format!("http://[::1]:{port}/")),
            "/to-file" => redirect("file:///etc/passwd"),
            "/to-creds" => redirect(&format!("http://user:pw@127.0.0.1:{port}/")),
            _ => not_found(),
        })
        .await;
        for path in [
            "/to-private",
            "/to-metadata",
            "/to-other-loopback",
            "/to-ipv6-loopback",
        ] {
            let started = Instant::now();
            let err = fetch(&config(), &fx.url(path)).await.expect_err(path);
            assert!(matches!(err, FetchError::Blocked { .. }), "{path}: {err:?}");
            assert!(started.elapsed() < Duration::from_secs(2), "{path}");
        }
        for path in ["/to-file", "/to-creds"] {
            let err = fetch(&config(), &fx.url(path)).await.expect_err(path);
            assert!(matches!(err, FetchError::Upstream(_)), "{path}: {err:?}");
        }
    }

    #[tokio::test]
    async fn invalid_urls() {
        for url in [
            "ftp://example.com/file",
            "javascript:alert(1)",
            "file:///etc/passwd",
            "data:text/plain,hi",
            "gopher://example.com/",
            "not a url",
            "",
            "http://user:pass@example.com/",
            "http://user@example.com/",
            "//example.com/",
        ] {
            let err = fetch(&closed_config(), url).await.expect_err(url);
            assert!(matches!(err, FetchError::InvalidUrl(_)), "{url}: {err:?}");
        }
    }

    #[tokio::test]
    async fn connection_refused_is_upstream() {
        // Bind and drop to get a loopback port with nothing listening.
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            l.local_addr().expect("addr").port()
        };
        let err = fetch(&config(), &format!("http://127.0.0.1:{port}/"))
            .await
            .expect_err("refused");
        assert!(matches!(err, FetchError::Upstream(_)), "{err:?}");
    }

    #[tokio::test]
    async fn decodes_declared_charsets() {
        let fx = serve(|path, _| match path {
            "/latin1" => respond(
                "200 OK",
                Some("text/plain; charset=ISO-8859-1"),
                "",
                b"caf\xe9 \x80",
            ),
            "/meta" => respond(
                "200 OK",
                Some("text/html"),
                "",
                b"<html><head><meta charset=\"windows-1252\"></head>na\xefve</html>",
            ),
            "/bom16" => respond("200 OK", Some("text/plain"), "", b"\xff\xfeh\x00i\x00"),
            "/bad-utf8" => respond("200 OK", Some("text/plain"), "", b"ok\xff"),
            _ => not_found(),
        })
        .await;
        let body = |path: &'static str| {
            let url = fx.url(path);
            async move { fetch(&config(), &url).await.expect(path).body }
        };
        assert_eq!(body("/latin1").await, "café €");
        assert!(body("/meta").await.contains("naïve"));
        assert_eq!(body("/bom16").await, "hi");
        assert_eq!(body("/bad-utf8").await, "ok\u{fffd}");
    }

    #[test]
    fn address_table() {
        let refused = [
            "0.0.0.0",
            "0.1.2.3",
            "10.255.255.255",
            "100.64.0.0",
            "100.127.255.255",
            "127.0.0.1",
            "127.255.255.254",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.168.0.1",
            "198.18.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b:1::1",
            "2002:7f00:1::",
            "2002:a9fe:a9fe::1",
            "2001::1",
            "2001:db8::1",
            "3fff::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "100::1",
        ];
        for s in refused {
            let ip: IpAddr = s.parse().expect(s);
            assert!(refusal(ip).is_some(), "{s} should be refused");
        }
        let public = [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "169.253.255.255",
            "192.169.0.1",
            "223.255.255.255",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "2606:4700:4700::1111",
            "2a00:1450:4001::1",
        ];
        for s in public {
            let ip: IpAddr = s.parse().expect(s);
            assert_eq!(refusal(ip), None, "{s} should be public");
        }
    }

    #[test]
    fn allow_list_covers_mapped_forms() {
        let cfg = config();
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().expect("ip");
        assert!(check_addr(&cfg, "x", mapped).is_ok());
        let other: IpAddr = "127.0.0.2".parse().expect("ip");
        assert!(check_addr(&cfg, "x", other).is_err());
    }

    #[test]
    fn url_normalisation_reaches_the_guard() {
        // The url crate turns these host spellings into 127.0.0.1; the guard sees the result.
        for s in [
            "http://2130706433/",
            "http://0x7f.1/",
            "http://0177.0.0.1/",
            "http://127.1/",
        ] {
            let url = parse_url(s).expect(s);
            assert_eq!(url.host(), Some(Host::Ipv4(Ipv4Addr::LOCALHOST)), "{s}");
        }
    }

    #[test]
    fn meta_charset_forms() {
        assert_eq!(
            meta_charset(b"<meta charset=utf-8>").as_deref(),
            Some("utf-8")
        );
        assert_eq!(
            meta_charset(
                b"<META HTTP-EQUIV=\"Content-Type\" CONTENT=\"text/html; charset=ISO-8859-1\">"
            )
            .as_deref(),
            Some("iso-8859-1")
        );
        assert_eq!(meta_charset(b"<meta name=x><p>charset</p>"), None);
        assert_eq!(meta_charset(b"<meta charset"), None);
        assert_eq!(meta_charset("<meta charset='ü".as_bytes()), None);
    }

    #[test]
    fn decode_never_panics_on_odd_input() {
        for bytes in [
            &b""[..],
            b"\xff",
            b"\xfe\xff\x00",
            b"\xef\xbb",
            b"\xff\xfe\x00\xd8",
        ] {
            let _ = decode(bytes, Some("utf-16be"), true);
            let _ = decode(bytes, Some("bogus"), false);
            let _ = decode(bytes, None, true);
        }
        assert_eq!(decode(b"\x00h\x00i", Some("UTF-16BE"), false), "hi");
    }
}
