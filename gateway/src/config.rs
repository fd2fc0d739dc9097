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
    /// The origin the web player is served from, e.g. `https://yapit.example.org`, when the
    /// gateway sits behind a proxy that changes the `Host`. Writes and WebSocket handshakes that
    /// a browser sends from any other origin are refused (403). Unset: the gateway's own host.
    #[arg(long, env = "PUBLIC_ORIGIN")]
    pub public_origin: Option<String>,
    /// Mark the session cookie Secure (set true behind HTTPS).
    #[arg(long, env = "COOKIE_SECURE", default_value_t = false, action = clap::ArgAction::Set)]
    pub cookie_secure: bool,
    /// Sign-in attempts allowed per minute, per account and per client address.
    #[arg(long, env = "SIGN_IN_PER_MINUTE", default_value_t = 10)]
    pub sign_in_per_minute: u32,
    /// Sign-ups allowed per hour from one client address. Each costs an Argon2 hash, and a 409
    /// confirms that an e-mail has an account, so both are bounded by this.
    #[arg(long, env = "SIGN_UP_PER_HOUR", default_value_t = 10)]
    pub sign_up_per_hour: u32,
    /// Password hashes (sign-up, sign-in) computed at once; each holds 19 MiB while it runs.
    /// 0: one per CPU core, at most 8.
    #[arg(long, env = "PASSWORD_HASH_CONCURRENCY", default_value_t = 0)]
    pub password_hash_concurrency: usize,
    /// How long a sign-up or sign-in waits for a free hashing slot before it is answered 503
    /// with Retry-After, in milliseconds.
    #[arg(long, env = "PASSWORD_HASH_WAIT_MS", default_value_t = 2_000)]
    pub password_hash_wait_ms: u64,
    /// Comma-separated networks (CIDR) of reverse proxies in front of the gateway. Only a
    /// request from one of them has its client address taken from `X-Forwarded-For` (the
    /// rightmost address that is not a trusted proxy). Empty: the TCP peer is the client.
    #[arg(
        long,
        env = "TRUSTED_PROXIES",
        default_value = "",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<String>,
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
    /// Redis URL: job queues, in-flight deduplication, completion events and the hot audio cache.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:63799")]
    pub redis_url: Secret,
    /// Prefix of every Redis key and channel, so several deployments (or tests) can share one
    /// Redis. Gateways that should share queues must use the same prefix.
    #[arg(long, env = "REDIS_PREFIX", default_value = "yapit:")]
    pub redis_prefix: String,
    /// Comma-separated TTS worker addresses (`http://host:port`). A name that resolves to several
    /// addresses (a DNS name of a replica set) counts as one replica per address.
    #[arg(
        long,
        env = "TTS_WORKERS",
        default_value = "http://127.0.0.1:50051",
        value_delimiter = ','
    )]
    pub tts_workers: Vec<String>,
    /// How often each worker address is resolved and asked for its `Info`, in milliseconds.
    #[arg(long, env = "WORKER_PROBE_MS", default_value_t = 2_000)]
    pub worker_probe_ms: u64,
    /// A synthesis call that runs longer than this plus `WORKER_CALL_MS_PER_CHAR` per
    /// character of its text is cancelled and retried, in seconds.
    #[arg(long, env = "WORKER_CALL_TIMEOUT_SECS", default_value_t = 20)]
    pub worker_call_timeout_secs: u64,
    /// What each character of a text adds to its synthesis call's time limit, in milliseconds
    /// (the default gives a 300-character block 20 + 45 = 65 s).
    #[arg(long, env = "WORKER_CALL_MS_PER_CHAR", default_value_t = 150)]
    pub worker_call_ms_per_char: u64,
    /// Tries per job on the workers (each on another replica where there is one) before it is
    /// dead-lettered and its listeners get an error.
    #[arg(long, env = "JOB_MAX_ATTEMPTS", default_value_t = 3)]
    pub job_max_attempts: u32,
    /// A job a dispatcher took and stopped renewing (its gateway died) goes back to the queue
    /// after this long, in milliseconds.
    #[arg(long, env = "JOB_LEASE_MS", default_value_t = 15_000)]
    pub job_lease_ms: u64,
    /// A gateway renews its lease in Redis every third of this; a gateway gone for longer
    /// (killed, its host lost) no longer holds its listeners' claims on queued jobs, so jobs
    /// only they wanted are dropped, not synthesized, in milliseconds.
    #[arg(long, env = "GATEWAY_LEASE_MS", default_value_t = 10_000)]
    pub gateway_lease_ms: u64,
    /// A block a worker has been rendering for longer than this gets `error`, in seconds. The
    /// time it waited in the queue before does not count.
    #[arg(long, env = "SYNTHESIS_TIMEOUT_SECS", default_value_t = 120)]
    pub synthesis_timeout_secs: u64,
    /// A block no worker takes from the queue within this many seconds gets `error` (a
    /// listener hears its place in the queue meanwhile).
    #[arg(long, env = "QUEUE_WAIT_MAX_SECS", default_value_t = 600)]
    pub queue_wait_max_secs: u64,
    /// Folder of the cold audio store (content-addressed WAV files).
    #[arg(long, env = "AUDIO_DIR", default_value = ".local/audio")]
    pub audio_dir: std::path::PathBuf,
    /// Size bound of the cold audio store; least recently used files go first, in megabytes.
    #[arg(long, env = "AUDIO_DIR_MAX_MB", default_value_t = 2_048)]
    pub audio_dir_max_mb: u64,
    /// How long audio stays in the hot (Redis) cache after its last write, in seconds.
    #[arg(long, env = "AUDIO_HOT_TTL_SECS", default_value_t = 86_400)]
    pub audio_hot_ttl_secs: u64,
    /// Key that signs audio links (`/v1/audio/{hash}?expires=…&sig=…`). Gateways behind one
    /// address must share it; unset, each gateway signs with a random key of its own.
    #[arg(long, env = "AUDIO_URL_KEY")]
    pub audio_url_key: Option<Secret>,
    /// How long an audio link handed to a listener stays valid, in seconds.
    #[arg(long, env = "AUDIO_URL_TTL_SECS", default_value_t = 3_600)]
    pub audio_url_ttl_secs: u64,
    /// Bearer token that shows `/api/health`'s details (workers, versions, queues). Unset:
    /// the public sees the status only, and nobody the details.
    #[arg(long, env = "OPERATOR_TOKEN")]
    pub operator_token: Option<Secret>,
    /// Queued blocks more than this many blocks behind a listener's cursor are evicted.
    #[arg(long, env = "WS_WINDOW_BEHIND", default_value_t = 8)]
    pub ws_window_behind: u32,
    /// Queued blocks more than this many blocks ahead of a listener's cursor are evicted.
    #[arg(long, env = "WS_WINDOW_AHEAD", default_value_t = 64)]
    pub ws_window_ahead: u32,
    /// Most blocks one WebSocket may wait for at once; more are refused with an error.
    #[arg(long, env = "WS_MAX_QUEUED", default_value_t = 128)]
    pub ws_max_queued: usize,
    /// Most blocks one user's sockets on this gateway may wait for at once, together.
    #[arg(long, env = "MAX_QUEUED_PER_USER", default_value_t = 256)]
    pub max_queued_per_user: usize,
    /// Most block indices one `synthesize` message may carry.
    #[arg(long, env = "WS_MAX_INDICES", default_value_t = 64)]
    pub ws_max_indices: usize,
    /// Characters each user may have synthesized per day (UTC); 0 means no quota. Audio served
    /// from the cache does not count.
    #[arg(long, env = "DAILY_CHAR_QUOTA", default_value_t = 0)]
    pub daily_char_quota: u64,
    /// Longest `input` of `POST /v1/audio/speech`, in characters.
    #[arg(long, env = "SPEECH_MAX_CHARS", default_value_t = 4_096)]
    pub speech_max_chars: usize,
    /// Folder of the built web player (index.html and assets/); not served when missing.
    #[arg(long, env = "WEB_DIR", default_value = "web/dist")]
    pub web_dir: std::path::PathBuf,
    /// Log as JSON lines (production) instead of text.
    #[arg(long, env = "LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
    /// Where Prometheus metrics are served (`yapit_*`; a port of its own, never published);
    /// none when unset.
    #[arg(long, env = "METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} entry {1:?} is not a network like 127.0.0.1/32")]
    BadNetwork(&'static str, String),
    #[error("TTS_WORKERS is empty: name at least one worker address, like http://127.0.0.1:50051")]
    NoWorkers,
    #[error("{0} must be at least 1")]
    Zero(&'static str),
}

impl GatewayConfig {
    pub fn session_ttl(&self) -> Duration {
        Duration::from_secs(self.session_ttl_hours * 3600)
    }

    pub fn fetch_allow_networks(&self) -> Result<Vec<ipnet::IpNet>, ConfigError> {
        networks("FETCH_ALLOW", &self.fetch_allow)
    }

    pub fn trusted_proxy_networks(&self) -> Result<Vec<ipnet::IpNet>, ConfigError> {
        networks("TRUSTED_PROXIES", &self.trusted_proxies)
    }

    /// Concurrent password hashes: `PASSWORD_HASH_CONCURRENCY`, or the number of cores.
    pub fn password_hash_slots(&self) -> usize {
        if self.password_hash_concurrency > 0 {
            return self.password_hash_concurrency;
        }
        std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        for (name, value) in [
            ("SIGN_IN_PER_MINUTE", self.sign_in_per_minute as usize),
            ("SIGN_UP_PER_HOUR", self.sign_up_per_hour as usize),
            ("MAX_BLOCK_CHARS", self.max_block_chars),
            ("MAX_DOCUMENT_CHARS", self.max_document_chars),
            ("SESSION_TTL_HOURS", self.session_ttl_hours as usize),
            ("WORKER_PROBE_MS", self.worker_probe_ms as usize),
            (
                "WORKER_CALL_TIMEOUT_SECS",
                self.worker_call_timeout_secs as usize,
            ),
            ("JOB_MAX_ATTEMPTS", self.job_max_attempts as usize),
            ("JOB_LEASE_MS", self.job_lease_ms as usize),
            ("GATEWAY_LEASE_MS", self.gateway_lease_ms as usize),
            (
                "SYNTHESIS_TIMEOUT_SECS",
                self.synthesis_timeout_secs as usize,
            ),
            ("QUEUE_WAIT_MAX_SECS", self.queue_wait_max_secs as usize),
            ("AUDIO_HOT_TTL_SECS", self.audio_hot_ttl_secs as usize),
            ("AUDIO_URL_TTL_SECS", self.audio_url_ttl_secs as usize),
            ("WS_MAX_INDICES", self.ws_max_indices),
            ("WS_MAX_QUEUED", self.ws_max_queued),
            ("MAX_QUEUED_PER_USER", self.max_queued_per_user),
        ] {
            if value == 0 {
                return Err(ConfigError::Zero(name));
            }
        }
        if self.tts_workers.iter().all(|w| w.trim().is_empty()) {
            return Err(ConfigError::NoWorkers);
        }
        self.fetch_allow_networks()?;
        self.trusted_proxy_networks().map(|_| ())
    }
}

/// A comma-separated list of CIDRs (or bare addresses) from the variable `name`.
fn networks(name: &'static str, entries: &[String]) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    entries
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<ipnet::IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| ConfigError::BadNetwork(name, s.to_string()))
        })
        .collect()
}
