//! What `bazaar push` and `bazaar pull` share: a progress bar per file, and a file's SHA-256.
use std::path::Path;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

/// A bar for one file of `size` bytes named `name`, under `bars`.
pub fn file_bar(bars: &MultiProgress, size: u64, name: &str) -> ProgressBar {
    let bar = bars.add(ProgressBar::new(size));
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:30!} {bar:30} {bytes:>10}/{total_bytes:<10} {bytes_per_sec:>12} eta {eta}",
        )
        .expect("a valid template"),
    );
    bar.set_message(name.to_owned());
    bar
}

/// The SHA-256 (hex) of the file at `path`, read in 1 MiB pieces.
pub async fn sha256_of(path: &Path) -> anyhow::Result<String> {
    let mut file = tokio::fs::File::open(path).await?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}
