//! What the gateway benchmark shares with the other load benchmarks (`bench/scaling`): the
//! gateway's API as a client drives it, waiting for a quiet machine, and the report header that
//! names the machine and the commit.

pub mod api;
pub mod idle;
pub mod machine;
