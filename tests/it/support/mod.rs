#[path = "../../support/mutate.rs"]
pub mod mutate;
