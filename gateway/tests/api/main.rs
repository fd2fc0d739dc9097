//! Gateway integration tests against the real Postgres (a fresh database per test), the real
//! Redis (a key namespace per test) and the real Kokoro worker, plus a fake worker for faults.
//! They need DATABASE_URL pointing at a server where the user may create databases, REDIS_URL,
//! and ORT_DYLIB_PATH (`make test` provides all three).

mod auth;
mod catalog;
mod chaos;
mod documents;
mod faults;
mod flood;
mod helpers;
mod higgs;
mod lexicon;
mod listener;
mod queueing;
mod segments;
mod speech;
mod synthesis;
mod urls;
mod words;
mod workers;
mod ws_frames;
