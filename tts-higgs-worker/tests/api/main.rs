//! Integration tests of the Higgs worker: the real gRPC server, the real model code and codec on
//! the CPU, with the tiny random-weight checkpoint of the parity fixtures (its audio is noise;
//! what is checked is the whole path: prompt, generation, streaming decode, the contract).

mod helpers;
mod info;
mod say;
mod synthesize;
