//! File dumps of the whole tree, for crash forensics and offline aggregation.

use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::UNIX_EPOCH;

use serde_json::Value as Json;

use crate::format::json::{self, Style};
use crate::snapshot::Snapshot;

/// Writes `snapshot` as compact JSON to `path`, adding a top-level `last-updated` key (Unix
/// seconds) as the original did. The file is written beside `path` under a temporary name,
/// synced, and renamed over `path`, so a reader sees the old file or the new one, never a
/// torn one.
pub(crate) fn write_dump(snapshot: &Snapshot, path: &Path) -> io::Result<()> {
    let mut value = json::to_value(snapshot.root());
    if let Json::Object(map) = &mut value {
        let seconds = snapshot
            .taken_at()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        map.insert("last-updated".to_owned(), Json::from(seconds));
    }
    let text = json::render(&value, Style::Compact);

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

    let result = (|| {
        let mut file = fs::File::create(&temp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}
