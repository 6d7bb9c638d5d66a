//! Content-addressed document blobs on the local filesystem (the SQLite store's blob storage).
//!
//! A blob lives at `ROOT/ab/cd/<sha256 hex>`. Writes go to `ROOT/tmp/<sha256>.<uuid>` first (file
//! and directory fsynced), are then hard-linked into place and the directory fsynced, and the temp
//! name is removed only after the database transaction that lists the blob has committed. So a
//! reader never sees a partial blob, and the temp name is the submission's *intent*: a blob file
//! that no database row lists is an orphan of an interrupted submission only while its intent is
//! still there. A listed-nowhere blob with no intent means the database lost rows it once had
//! (deleted, emptied, rolled back by a removed WAL): the store then refuses to open
//! ([`BlobDir::unlisted`]) and the sweeper never deletes such a file. The SQLite store only links
//! blobs into place and unlinks them while it holds the database write lock, which serialises
//! them with the rows that reference them.

use std::collections::HashSet;
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

/// A fully written, fsynced temporary file (`tmp/<sha>.<uuid>`): the blob's content before it is
/// linked into place, and the submission's intent until it is dropped after the commit.
#[derive(Debug)]
pub(crate) struct TempBlob(PathBuf);

impl Drop for TempBlob {
    fn drop(&mut self) {
        // The intent ends here: after the commit that lists the blob, or after a failed one.
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

    /// Write `bytes` (whose key is `sha`) to a fresh temp file and fsync it and its directory,
    /// so the intent is durable before the blob can be.
    pub(crate) fn write_temp(&self, sha: &str, bytes: &[u8]) -> io::Result<TempBlob> {
        let dir = self.root.join("tmp");
        let name = format!("{sha}.{}", uuid::Uuid::new_v4().simple());
        let temp = TempBlob(dir.join(name));
        let mut f = fs::File::create(&temp.0)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        sync_dir(&dir)?;
        Ok(temp)
    }

    /// Link `temp` into place as blob `sha` (replacing nothing if it is already there); returns
    /// whether this call created the blob. `temp` stays (the intent) until the caller drops it.
    pub(crate) fn install(&self, temp: &TempBlob, sha: &str) -> io::Result<bool> {
        let dest = self.path(sha);
        if dest.is_file() {
            return Ok(false);
        }
        let dir = dest.parent().expect("blob path has a parent");
        fs::create_dir_all(dir)?;
        match fs::hard_link(&temp.0, &dest) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(false),
            Err(e) => return Err(e),
        }
        sync_dir(dir)?;
        Ok(true)
    }

    /// The keys that have a submission intent (a temp file) in `tmp/`.
    pub(crate) fn intents(&self) -> io::Result<HashSet<String>> {
        let mut out = HashSet::new();
        for f in fs::read_dir(self.root.join("tmp"))? {
            let name = f?.file_name().to_string_lossy().into_owned();
            if let Some((sha, _)) = name.split_once('.')
                && is_hex_key(sha)
            {
                out.insert(sha.to_string());
            }
        }
        Ok(out)
    }

    /// Stored blobs that no row in `listed` names and no submission intent explains: documents
    /// the database has lost track of. Sorted.
    pub(crate) fn unlisted(&self, listed: &HashSet<String>) -> io::Result<Vec<String>> {
        let intents = self.intents()?;
        let mut out: Vec<String> = self
            .list()?
            .into_iter()
            .filter(|sha| !listed.contains(sha) && !intents.contains(sha))
            .collect();
        out.sort();
        Ok(out)
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

    /// Delete temp files older than `age` (left by interrupted submissions). Call it only after
    /// the orphans those intents explain are gone ([`BlobDir::unlisted`]).
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
