//! Test support for chaintrail: a throwaway regtest node, a deterministic wallet that signs every
//! script kind locally, and a chain generator that records its ground truth.

pub mod gen;
mod gen_activity;
mod gen_case;
pub mod gen_chain;
mod gen_world;
pub mod node;
pub mod truth;
pub mod wallet;

pub use gen::{generate, generate_with, GenParams};
pub use gen_chain::{BlockSink, MinedBlock, RpcSink};
pub use node::{NodeError, TestEnv, TestEnvBuilder};
pub use truth::{CaseInfo, Entity, OutPointInfo, OutputInfo, ScriptInfo, Truth, TxInfo};
pub use wallet::{Key, OwnedScript, ScriptKind, SignError, Spent, Wallet};
