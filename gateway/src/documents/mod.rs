//! The user's library: documents from pasted text or a URL, split into readable blocks.

pub mod fetch;
pub mod language;
pub mod parse;
mod routes;

pub use routes::router;
