//! Gateway configuration from the environment (or flags), validated at start.

use std::{fmt, net::SocketAddr, str::FromStr, time::Duration};

/// A secret that never reaches a log line or `Debug` output.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_string()))
    }
}

#[derive(Debug, Clone, clap::Parser)]
#[command(version, about = "yapit gateway")]
pub struct GatewayConfig {
    /// Address the HTTP server listens on.
    #[arg(long, env = "GATEWAY_ADDR", default_value = "127.0.0.1:8000")]
    pub addr: SocketAddr,
    /// Postgres connection URL (holds a password: never logged).
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Secret,
    /// false: single-user mode for self-hosting; every request is one local user.
    #[arg(long, env = "AUTH_ENABLED", default_value_t = true, action = clap::ArgAction::Set)]
    pub auth_enabled: bool,
    /// How long a sign-in lasts, in hours.
    #[arg(long, env = "SESSION_TTL_HOURS", default_value_t = 24 * 30)]
    pub session_ttl_hours: u64,
    /// Mark the session cookie Secure (set true behind HTTPS).
    #[arg(long, env = "COOKIE_SECURE", default_value_t = false, action = clap::ArgAction::Set)]
    pub cookie_secure: bool,
    /// Sign-in attempts allowed per minute, per account and per client address.
    #[arg(long, env = "SIGN_IN_PER_MINUTE", default_value_t = 10)]
    pub sign_in_per_minute: u32,
    /// Apply seed/catalog.toml at start-up.
    #[arg(long, env = "SEED_ON_START", default_value_t = true, action = clap::ArgAction::Set)]
    pub seed_on_start: bool,
    /// Largest request body, in bytes.
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = 2 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Most characters one document may hold.
    #[arg(long, env = "MAX_DOCUMENT_CHARS", default_value_t = 500_000)]
    pub max_document_chars: usize,
    /// No speakable block is longer than this many characters.
    #[arg(long, env = "MAX_BLOCK_CHARS", default_value_t = 300)]
    pub max_block_chars: usize,
    /// Whole-fetch timeout for documents from URLs, in seconds.
    #[arg(long, env = "FETCH_TIMEOUT_SECS", default_value_t = 15)]
    pub fetch_timeout_secs: u64,
    /// Largest page fetched, in bytes.
    #[arg(long, env = "FETCH_MAX_BYTES", default_value_t = 10 * 1024 * 1024)]
    pub fetch_max_bytes: usize,
    /// Comma-separated networks (CIDR) that URL fetches may reach although they are private or
    /// loopback, e.g. "127.0.0.1/32" for a local fixture server. Empty: none.
    #[arg(long, env = "FETCH_ALLOW", default_value = "", value_delimiter = ',')]
    pub fetch_allow: Vec<String>,
    /// Log as JSON lines (production) instead of text.
    #[arg(long, env = "LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("FETCH_ALLOW entry {0:?} is not a network like 127.0.0.1/32")]
    BadNetwork(String),
    #[error("{0} must be at least 1")]
    Zero(&'static str),
}

impl GatewayConfig {
    pub fn session_ttl(&self) -> Duration {
        Duration::from_secs(self.session_ttl_hours * 3600)
    }

    pub fn fetch_allow_networks(&self) -> Result<Vec<ipnet::IpNet>, ConfigError> {
        self.fetch_allow
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<ipnet::IpNet>()
                    .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| ConfigError::BadNetwork(s.to_string()))
            })
            .collect()
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        for (name, value) in [
            ("SIGN_IN_PER_MINUTE", self.sign_in_per_minute as usize),
            ("MAX_BLOCK_CHARS", self.max_block_chars),
            ("MAX_DOCUMENT_CHARS", self.max_document_chars),
            ("SESSION_TTL_HOURS", self.session_ttl_hours as usize),
        ] {
            if value == 0 {
                return Err(ConfigError::Zero(name));
            }
        }
        self.fetch_allow_networks().map(|_| ())
    }
}
