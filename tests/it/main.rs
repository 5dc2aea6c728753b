//! The one integration-test binary: end-to-end tests through the real `fgbench` binary and
//! the differential test against BFCL.

mod app;
mod bfcl_diff;
mod bfcl_prompts;
mod cli;
mod codec_props;
mod compare;
mod demo;
mod deploy;
mod engine;
mod gate;
mod generalise;
mod golden;
mod layers;
#[cfg(feature = "llamacpp")]
mod llamacpp;
#[cfg(feature = "llamacpp")]
mod remote;
mod report;
mod runtimes;
mod serve;
mod serve_attack;
mod support;
mod train;
