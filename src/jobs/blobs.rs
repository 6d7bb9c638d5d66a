//! Content-addressed document blobs on the local filesystem (the SQLite store's blob storage).
//!
//! A blob lives at `ROOT/ab/cd/<sha256 hex>`. Writes go to `ROOT/tmp/<uuid>` first, are fsynced,
//! then renamed into place and the directory fsynced, so a reader never sees a partial blob and a
//! crash leaves at worst a temp file (or an unreferenced blob) that the sweeper removes. The
//! SQLite store only renames blobs into place and unlinks them while it holds the database write
//! lock, which serialises them with the rows that reference them.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

/// The sha256 of `bytes`, lowercase hex: a blob's key.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A blob directory.
#[derive(Debug, Clone)]
pub(crate) struct BlobDir {
    root: PathBuf,
}

/// A fully written, fsynced temporary file waiting to be renamed into place.
#[derive(Debug)]
pub(crate) struct TempBlob(PathBuf);

impl Drop for TempBlob {
    fn drop(&mut self) {
        // Removed unless it was renamed into place (then the path no longer exists).
        let _ = fs::remove_file(&self.0);
    }
}

fn is_hex_key(name: &str) -> bool {
    name.len() == 64
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

impl BlobDir {
    /// Open (creating) the blob directory `root`.
    pub(crate) fn open(root: PathBuf) -> io::Result<Self> {
        fs::create_dir_all(root.join("tmp"))?;
        Ok(BlobDir { root })
    }

    /// Where the blob `sha` lives.
    pub(crate) fn path(&self, sha: &str) -> PathBuf {
        self.root.join(&sha[0..2]).join(&sha[2..4]).join(sha)
    }

    /// Whether the blob `sha` is present.
    pub(crate) fn exists(&self, sha: &str) -> bool {
        self.path(sha).is_file()
    }

    /// Write `bytes` to a fresh temp file and fsync it.
    pub(crate) fn write_temp(&self, bytes: &[u8]) -> io::Result<TempBlob> {
        let path = self
            .root
            .join("tmp")
            .join(uuid::Uuid::new_v4().simple().to_string());
        let temp = TempBlob(path);
        let mut f = fs::File::create(&temp.0)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        Ok(temp)
    }

    /// Move `temp` into place as blob `sha` (replacing nothing if it is already there); returns
    /// whether this call created the blob.
    pub(crate) fn install(&self, temp: TempBlob, sha: &str) -> io::Result<bool> {
        let dest = self.path(sha);
        if dest.is_file() {
            return Ok(false);
        }
        let dir = dest.parent().expect("blob path has a parent");
        fs::create_dir_all(dir)?;
        fs::rename(&temp.0, &dest)?;
        sync_dir(dir)?;
        Ok(true)
    }

    /// Read blob `sha`.
    pub(crate) fn read(&self, sha: &str) -> io::Result<Vec<u8>> {
        fs::read(self.path(sha))
    }

    /// Delete blob `sha`; returns whether it existed.
    pub(crate) fn remove(&self, sha: &str) -> io::Result<bool> {
        match fs::remove_file(self.path(sha)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The keys of every stored blob.
    pub(crate) fn list(&self) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        for l1 in fs::read_dir(&self.root)? {
            let l1 = l1?;
            if l1.file_name() == "tmp" || !l1.file_type()?.is_dir() {
                continue;
            }
            for l2 in fs::read_dir(l1.path())? {
                let l2 = l2?;
                if !l2.file_type()?.is_dir() {
                    continue;
                }
                for f in fs::read_dir(l2.path())? {
                    let name = f?.file_name().to_string_lossy().into_owned();
                    if is_hex_key(&name) {
                        out.push(name);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Delete temp files older than `age` (left by interrupted submissions).
    pub(crate) fn clean_temp(&self, age: Duration) -> io::Result<u64> {
        let mut n = 0;
        let now = SystemTime::now();
        for f in fs::read_dir(self.root.join("tmp"))? {
            let f = f?;
            let old = f
                .metadata()?
                .modified()
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .is_some_and(|d| d >= age);
            if old && fs::remove_file(f.path()).is_ok() {
                n += 1;
            }
        }
        Ok(n)
    }
}

/// Run blocking filesystem work off the async runtime's worker threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| io::Error::other(format!("blob task panicked: {e}")))?
}
