//! Writing a generated bundle to a folder without leaving half a bundle.

use std::path::Path;

use crate::fsutil::write_atomic;
use crate::generate::Artifacts;

/// Writes every artifact under `dir`. A new `dir` is filled as a hidden
/// sibling and renamed into place at the end, so a failure leaves nothing;
/// into an existing folder each file is replaced atomically. `.env` (the
/// secrets) is readable by its owner only; scripts are executable.
pub fn write_bundle(artifacts: &Artifacts, dir: &Path) -> std::io::Result<()> {
    if dir.exists() {
        return write_files(artifacts, dir);
    }
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(parent)?;
    let staging = tempfile::Builder::new()
        .prefix(".topolab-export-")
        .tempdir_in(parent)?;
    write_files(artifacts, staging.path())?;
    let staged = staging.keep();
    std::fs::rename(&staged, dir).inspect_err(|_| {
        let _ = std::fs::remove_dir_all(&staged);
    })
}

fn write_files(artifacts: &Artifacts, dir: &Path) -> std::io::Result<()> {
    for (rel, text) in artifacts.iter() {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        write_atomic(&path, text.as_bytes())?;
        set_mode(&path, mode_of(rel))?;
    }
    Ok(())
}

fn mode_of(rel: &str) -> u32 {
    if rel == ".env" {
        0o600
    } else if rel.ends_with(".sh") {
        0o755
    } else {
        0o644
    }
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}
