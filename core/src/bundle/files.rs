//! Reading a bundle's files: whole (small ones) or streamed, each checked against the
//! manifest's SHA-256 and size; and the errors that name a file.

use std::collections::HashMap;
use std::io::{Read, Seek};

use sha2::{Digest, Sha256};
use zip::ZipArchive;

use super::FileEntry;
use super::verify::BundleError;
use crate::ledger::export::VerifyError;
use crate::ledger::merkle::Hash;

/// The largest manifest, key list, checkpoint or proof file read whole.
pub(super) const SMALL_FILE: u64 = 16 << 20;

pub(super) fn file_err(path: &str, m: impl Into<String>) -> BundleError {
    BundleError::File {
        path: path.to_string(),
        message: m.into(),
    }
}

pub(super) fn cp_err(which: &str, e: VerifyError) -> BundleError {
    BundleError::Checkpoint(format!("{which}: {e}"))
}

/// Reads one file whole, checking its size and SHA-256 against the manifest.
pub(super) fn read_small<R: Read + Seek>(
    zip: &mut ZipArchive<R>,
    path: &str,
    listed: &HashMap<&str, &FileEntry>,
) -> Result<Vec<u8>, BundleError> {
    let mut f = zip
        .by_name(path)
        .map_err(|_| file_err(path, "missing from the bundle"))?;
    let mut bytes = Vec::new();
    (&mut f)
        .take(SMALL_FILE)
        .read_to_end(&mut bytes)
        .map_err(|e| file_err(path, format!("unreadable: {e}")))?;
    if let Some(entry) = listed.get(path) {
        check_hash(
            path,
            entry,
            bytes.len() as u64,
            &Sha256::digest(&bytes).into(),
        )?;
    }
    Ok(bytes)
}

pub(super) fn check_hash(
    path: &str,
    entry: &FileEntry,
    size: u64,
    digest: &Hash,
) -> Result<(), BundleError> {
    if hex::encode(digest) != entry.sha256 || size != entry.size {
        return Err(file_err(
            path,
            "its SHA-256 is not the one in the manifest (the file was changed)",
        ));
    }
    Ok(())
}

/// Reads and hashes as it goes.
pub(super) struct Hashing<R> {
    pub(super) inner: R,
    pub(super) hasher: Sha256,
    pub(super) size: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
}

pub(super) fn record_error(e: VerifyError) -> BundleError {
    match e {
        VerifyError::Record { seq, message } => BundleError::Record { seq, message },
        e => BundleError::Record {
            seq: 0,
            message: e.to_string(),
        },
    }
}

pub(super) fn utf8(path: &str, bytes: Vec<u8>) -> Result<String, BundleError> {
    String::from_utf8(bytes).map_err(|_| file_err(path, "not UTF-8"))
}
