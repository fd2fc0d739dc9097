//! Gateway integration tests against the real Postgres (a fresh database per test).
//! They need DATABASE_URL pointing at a server where the user may create databases
//! (`make test` starts a project-local one).

mod auth;
mod catalog;
mod documents;
mod helpers;
mod urls;
