//! File dumps of the whole tree, for crash forensics and offline aggregation.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::format::json;
use crate::snapshot::Snapshot;

/// Writes `snapshot` as compact JSON to `path`, adding a top-level `last-updated` key (Unix
/// seconds) as the original did. The file is written beside its destination under a
/// temporary name, synced, and renamed over it, so a reader sees the old file or the new
/// one, never a torn one.
///
/// A symlink is followed: its target is replaced (atomically), the link stays. Anything that
/// is not a regular file — a directory, FIFO, socket or device — is refused with an
/// `InvalidInput` error and left alone.
pub(crate) fn write_dump(snapshot: &Snapshot, path: &Path) -> io::Result<()> {
    let destination = regular_file_destination(path)?;
    let path = destination.as_path();
    let text = json::to_string(
        snapshot,
        json::Options::default().with_last_updated().with_sketches(),
    );

    let file_name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "dump path has no file name"))?;
    // Unique per call, not only per process: two threads dumping to one path at once must
    // not write (and rename) the same temporary file.
    static NEXT_TEMP: AtomicU64 = AtomicU64::new(0);
    let mut temp_name = file_name.to_os_string();
    temp_name.push(format!(
        ".tmp{}.{}",
        std::process::id(),
        NEXT_TEMP.fetch_add(1, Ordering::Relaxed)
    ));
    let temp = path.with_file_name(temp_name);

    let existing_permissions = fs::metadata(path).ok().map(|m| m.permissions());
    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        file.write_all(text.as_bytes())?;
        if let Some(permissions) = existing_permissions {
            file.set_permissions(permissions)?;
        }
        file.sync_all()?;
        fs::rename(&temp, path)?;
        // Make the rename itself durable (best effort: not every platform syncs directories).
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if let Ok(dir) = fs::File::open(dir) {
                let _ = dir.sync_all();
            }
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// The regular file a dump to `path` replaces: `path` itself, or the end of its chain of
/// symlinks (which need not exist yet). Errors for anything else.
fn regular_file_destination(path: &Path) -> io::Result<PathBuf> {
    const MAX_LINKS: usize = 40;
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        let metadata = match fs::symlink_metadata(&current) {
            Ok(metadata) => metadata,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(current),
            Err(e) => return Err(e),
        };
        let kind = metadata.file_type();
        if kind.is_symlink() {
            let target = fs::read_link(&current)?;
            current = match current.parent() {
                Some(parent) if target.is_relative() => parent.join(target),
                _ => target,
            };
            continue;
        }
        if kind.is_file() {
            return Ok(current);
        }
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "refusing to dump stats to {}: it is {}, not a regular file",
                current.display(),
                describe(&kind)
            ),
        ));
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "refusing to dump stats to {}: more than {MAX_LINKS} symlinks to follow",
            path.display()
        ),
    ))
}

/// What a file that is not a regular file is, for messages: `a FIFO`, `a directory`, ...
pub(crate) fn describe(kind: &fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_socket() {
            return "a socket";
        }
        if kind.is_block_device() || kind.is_char_device() {
            return "a device";
        }
    }
    if kind.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}
