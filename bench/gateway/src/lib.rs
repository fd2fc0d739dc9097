//! What the gateway benchmark shares with the other load benchmarks (`bench/scaling`): the
//! gateway's API as a client drives it, waiting for a quiet machine, the report header that
//! names the machine and the commit, and prose nobody has cached.

pub mod api;
pub mod idle;
pub mod machine;
pub mod texts;
