//! `query keys new --out FILE`: makes an Ed25519 key pair for signing case files (see
//! [`crate::report::sign`]); needs no index.

use std::path::PathBuf;

use crate::cli::{KeysArgs, KeysCommand};
use crate::error::{Result, UsageError};
use crate::model::{Body, KeyView, Report};
use crate::report::sign;

#[derive(Debug)]
pub struct Request {
    out: PathBuf,
}

impl Request {
    pub fn prepare(args: &KeysArgs) -> Request {
        match &args.command {
            KeysCommand::New { out } => Request { out: out.clone() },
        }
    }

    /// Writes the key pair; an existing file is never replaced.
    pub fn run(&self) -> Result<Report> {
        let key = sign::new_key().map_err(UsageError::Sign)?;
        let public = sign::write_key(&key, &self.out).map_err(UsageError::Sign)?;
        let view = KeyView {
            secret_key_file: self.out.display().to_string(),
            public_key_file: public.display().to_string(),
            public_key: hex::encode(key.verifying_key().as_bytes()),
        };
        Ok(Report { body: Body::Key(view), notes: Vec::new() })
    }
}
