//! Assembles a bundle as a zip streamed to any writer: files are written one after the
//! other (sizes and CRCs in data descriptors, so nothing is seeked back to or held whole),
//! each hashed as it goes; the manifest listing those hashes comes last, then its
//! signature.

use std::io::{self, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signer, SigningKey};
use sha2::{Digest, Sha256};
use zip::write::{SimpleFileOptions, StreamWriter};
use zip::{CompressionMethod, ZipWriter};

use super::{FileEntry, MANIFEST, MANIFEST_SIG, Manifest};

pub struct BundleWriter<W: Write> {
    zip: ZipWriter<StreamWriter<W>>,
    files: Vec<FileEntry>,
    open: Option<Open>,
}

struct Open {
    path: String,
    hasher: Sha256,
    size: u64,
}

fn options(large: bool) -> SimpleFileOptions {
    // Level 1: the records compress about 6:1 even so, and export speed is what matters.
    SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(1))
        .large_file(large)
}

fn zip_err(e: zip::result::ZipError) -> io::Error {
    io::Error::other(e)
}

impl<W: Write> BundleWriter<W> {
    pub fn new(out: W) -> BundleWriter<W> {
        BundleWriter {
            zip: ZipWriter::new_stream(out),
            files: Vec::new(),
            open: None,
        }
    }

    /// Starts a file that will be written in pieces (`large`: may pass 4 GiB).
    pub fn start(&mut self, path: &str, large: bool) -> io::Result<()> {
        self.close();
        self.zip.start_file(path, options(large)).map_err(zip_err)?;
        self.open = Some(Open {
            path: path.to_string(),
            hasher: Sha256::new(),
            size: 0,
        });
        Ok(())
    }

    /// Appends to the file started last.
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        let open = self
            .open
            .as_mut()
            .ok_or_else(|| io::Error::other("no bundle file is open"))?;
        open.hasher.update(bytes);
        open.size += bytes.len() as u64;
        self.zip.write_all(bytes)
    }

    /// A whole small file.
    pub fn file(&mut self, path: &str, bytes: &[u8]) -> io::Result<()> {
        self.start(path, false)?;
        self.write(bytes)?;
        self.close();
        Ok(())
    }

    fn close(&mut self) {
        if let Some(o) = self.open.take() {
            self.files.push(FileEntry {
                path: o.path,
                size: o.size,
                sha256: hex::encode(o.hasher.finalize()),
            });
        }
    }

    /// The files written so far, with their hashes.
    pub fn files(&mut self) -> &[FileEntry] {
        self.close();
        &self.files
    }

    /// Writes the manifest (with the file list filled in) and its signature, and ends the
    /// zip. Returns the manifest's bytes' SHA-256 (hex).
    pub fn finish(mut self, mut manifest: Manifest, key: &SigningKey) -> io::Result<String> {
        self.close();
        manifest.files = std::mem::take(&mut self.files);
        let mut bytes = serde_json::to_vec_pretty(&manifest).map_err(io::Error::other)?;
        bytes.push(b'\n');
        let sig = key.sign(&bytes);
        self.zip
            .start_file(MANIFEST, options(false))
            .map_err(zip_err)?;
        self.zip.write_all(&bytes)?;
        self.zip
            .start_file(MANIFEST_SIG, options(false))
            .map_err(zip_err)?;
        self.zip
            .write_all(format!("{}\n", STANDARD.encode(sig.to_bytes())).as_bytes())?;
        let mut out = self.zip.finish().map_err(zip_err)?;
        out.flush()?;
        Ok(hex::encode(Sha256::digest(&bytes)))
    }
}
