//! Writing a generated bundle to a folder: all of it or none of it, only
//! inside that folder, with the modes its files need.
//!
//! Every file is written first into a hidden staging folder. A new folder
//! is that staging folder renamed into place. Into an existing folder
//! (empty, or `--force`), each file of the bundle is then renamed over its
//! old version, the old versions kept aside until every file is in; when a
//! step fails, the files already moved go back and the folder is as it
//! was. Files of the folder that are not part of the bundle are left
//! alone. Symbolic links inside the folder are never followed.

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use crate::generate::Artifacts;

/// Why a bundle could not be written: the path that failed and what the
/// system said about it.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}: {source}", path.display())]
pub struct ExportError {
    /// The file or folder that could not be written.
    pub path: PathBuf,
    /// What went wrong there.
    #[source]
    pub source: std::io::Error,
}

impl ExportError {
    fn at(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self { path, source }
    }

    fn refused(path: impl Into<PathBuf>, why: String) -> Self {
        Self {
            path: path.into(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, why),
        }
    }
}

/// The mode of a bundle file: secrets (`.env`, everything under
/// `secrets/`) readable by their owner only, scripts executable, the rest
/// readable by all (the containers read them as other users).
pub fn file_mode(rel: &str) -> u32 {
    if rel == ".env" || rel.starts_with("secrets/") {
        0o600
    } else if rel.ends_with(".sh") {
        0o755
    } else {
        0o644
    }
}

/// The mode of a bundle folder: `secrets/` and what is under it is its
/// owner's only.
pub fn dir_mode(rel: &Path) -> u32 {
    if rel.starts_with("secrets") {
        0o700
    } else {
        0o755
    }
}

/// Writes every artifact under `dir`, whole or not at all (see the module
/// documentation). `dir` itself may be a link to a folder; nothing inside
/// it is written through a link.
pub fn write_bundle(artifacts: &Artifacts, dir: &Path) -> Result<(), ExportError> {
    for (rel, _) in artifacts.iter() {
        if !is_plain_relative(rel) {
            return Err(ExportError::refused(
                dir.join(rel),
                "not a plain path inside the bundle".to_owned(),
            ));
        }
    }
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => write_into_existing(artifacts, dir),
        Ok(_) => Err(ExportError::refused(dir, "it is not a folder".to_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => write_new(artifacts, dir),
        Err(e) => Err(ExportError::at(dir)(e)),
    }
}

/// Whether `rel` is a relative path made of plain names only.
fn is_plain_relative(rel: &str) -> bool {
    !rel.is_empty()
        && Path::new(rel)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

/// A new folder: staged beside it, then renamed into place.
fn write_new(artifacts: &Artifacts, dir: &Path) -> Result<(), ExportError> {
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(parent).map_err(ExportError::at(parent))?;
    let staging = tempfile::Builder::new()
        .prefix(".topolab-export-")
        .tempdir_in(parent)
        .map_err(ExportError::at(parent))?;
    write_tree(artifacts, staging.path())?;
    let staged = staging.keep();
    std::fs::rename(&staged, dir).map_err(|e| {
        let _ = std::fs::remove_dir_all(&staged);
        ExportError::at(dir)(e)
    })
}

/// Writes every artifact under `root`, a fresh folder of ours.
fn write_tree(artifacts: &Artifacts, root: &Path) -> Result<(), ExportError> {
    for (rel, text) in artifacts.iter() {
        let path = root.join(rel);
        if let Some(parent) = Path::new(rel).parent() {
            create_dirs(root, parent)?;
        }
        write_file(&path, text.as_bytes(), file_mode(rel)).map_err(ExportError::at(&path))?;
    }
    Ok(())
}

/// Creates `rel` and its parents under `root` (a folder of ours), each
/// with its [`dir_mode`].
fn create_dirs(root: &Path, rel: &Path) -> Result<(), ExportError> {
    let mut at = PathBuf::new();
    for part in rel.components() {
        at.push(part);
        let path = root.join(&at);
        match std::fs::create_dir(&path) {
            Ok(()) => set_mode(&path, dir_mode(&at)).map_err(ExportError::at(&path))?,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(ExportError::at(&path)(e)),
        }
    }
    Ok(())
}

fn write_file(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    // Exactly `mode`, whatever the umask.
    set_mode(path, mode)
}

/// What one step of the swap did, to undo it.
struct Moved {
    rel: PathBuf,
    /// Where the old version went, when there was one.
    old: Option<PathBuf>,
    /// Whether the new version is in place.
    new_in_place: bool,
}

/// An existing folder: every file staged inside it (same file system, so
/// the renames cannot fail for crossing one), then swapped in.
fn write_into_existing(artifacts: &Artifacts, dir: &Path) -> Result<(), ExportError> {
    for (rel, _) in artifacts.iter() {
        check_target(dir, Path::new(rel))?;
    }
    let staging = tempfile::Builder::new()
        .prefix(".topolab-export-")
        .tempdir_in(dir)
        .map_err(ExportError::at(dir))?;
    write_tree(artifacts, staging.path())?;
    let aside = tempfile::Builder::new()
        .prefix(".topolab-old-")
        .tempdir_in(dir)
        .map_err(ExportError::at(dir))?;
    let mut created: Vec<PathBuf> = Vec::new();
    let mut moved: Vec<Moved> = Vec::new();
    for (n, (rel, _)) in artifacts.iter().enumerate() {
        let rel = Path::new(rel);
        let step = swap_one(
            dir,
            staging.path(),
            aside.path(),
            rel,
            n,
            &mut created,
            &mut moved,
        );
        match step {
            Ok(()) => {}
            Err(e) => {
                if undo(dir, &moved, &created) {
                    return Err(e);
                }
                // Something could not be put back: keep the old versions
                // where they are and say where.
                let kept = aside.keep();
                return Err(ExportError {
                    path: e.path,
                    source: std::io::Error::new(
                        e.source.kind(),
                        format!(
                            "{}; some old files could not be put back and are in {}",
                            e.source,
                            kept.display()
                        ),
                    ),
                });
            }
        }
    }
    if let Ok(meta) = std::fs::symlink_metadata(dir.join("secrets"))
        && meta.is_dir()
    {
        let secrets = dir.join("secrets");
        set_mode(&secrets, 0o700).map_err(ExportError::at(&secrets))?;
    }
    // The old versions and the emptied staging folder go; failing to
    // remove them leaves hidden folders, not a wrong bundle.
    let _ = aside.close();
    let _ = staging.close();
    Ok(())
}

/// Refuses, before anything changes, a target whose folders are links or
/// files, or whose file is a folder.
fn check_target(dir: &Path, rel: &Path) -> Result<(), ExportError> {
    let mut at = dir.to_owned();
    let parts: Vec<Component> = rel.components().collect();
    for (i, part) in parts.iter().enumerate() {
        at.push(part);
        let last = i + 1 == parts.len();
        let meta = match std::fs::symlink_metadata(&at) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(ExportError::at(&at)(e)),
        };
        let kind = meta.file_type();
        if last {
            if kind.is_dir() {
                return Err(ExportError::refused(
                    &at,
                    "it is a folder, and the bundle has a file there".to_owned(),
                ));
            }
        } else if kind.is_symlink() {
            return Err(ExportError::refused(
                &at,
                "it is a symbolic link: export never writes through a link inside the \
                 folder (remove it, or export to another folder)"
                    .to_owned(),
            ));
        } else if !kind.is_dir() {
            return Err(ExportError::refused(
                &at,
                "it is a file, and the bundle needs a folder there".to_owned(),
            ));
        }
    }
    Ok(())
}

/// Moves the staged `rel` into `dir`, its old version (if any) aside as
/// number `n`. Folders it needs are recorded in `created`, the moves in
/// `moved`, as they happen, so that [`undo`] can reverse them.
fn swap_one(
    dir: &Path,
    staging: &Path,
    aside: &Path,
    rel: &Path,
    n: usize,
    created: &mut Vec<PathBuf>,
    moved: &mut Vec<Moved>,
) -> Result<(), ExportError> {
    if let Some(parent) = rel.parent() {
        let mut at = PathBuf::new();
        for part in parent.components() {
            at.push(part);
            let path = dir.join(&at);
            match std::fs::symlink_metadata(&path) {
                Ok(meta) if meta.is_dir() => {}
                Ok(meta) => {
                    // It became a link or a file since the check.
                    let what = if meta.file_type().is_symlink() {
                        "a symbolic link"
                    } else {
                        "a file"
                    };
                    return Err(ExportError::refused(
                        &path,
                        format!("it is {what}, and the bundle needs a folder there"),
                    ));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    std::fs::create_dir(&path).map_err(ExportError::at(&path))?;
                    created.push(path.clone());
                    set_mode(&path, dir_mode(&at)).map_err(ExportError::at(&path))?;
                }
                Err(e) => return Err(ExportError::at(&path)(e)),
            }
        }
    }
    let target = dir.join(rel);
    let old = match std::fs::symlink_metadata(&target) {
        Ok(meta) if meta.is_dir() => {
            return Err(ExportError::refused(
                &target,
                "it is a folder, and the bundle has a file there".to_owned(),
            ));
        }
        Ok(_) => {
            // A second link to the old version keeps it while the new one
            // replaces it in one rename, so the file never goes missing;
            // where links cannot be made, the old version moves aside.
            let keep = aside.join(n.to_string());
            if std::fs::hard_link(&target, &keep).is_err() {
                std::fs::rename(&target, &keep).map_err(ExportError::at(&target))?;
            }
            Some(keep)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(ExportError::at(&target)(e)),
    };
    moved.push(Moved {
        rel: rel.to_owned(),
        old,
        new_in_place: false,
    });
    std::fs::rename(staging.join(rel), &target).map_err(ExportError::at(&target))?;
    if let Some(last) = moved.last_mut() {
        last.new_in_place = true;
    }
    Ok(())
}

/// Puts back what the swap changed, newest first: each new file removed
/// and its old version returned, then the folders it created (when empty).
/// False when an old version could not be returned.
fn undo(dir: &Path, moved: &[Moved], created: &[PathBuf]) -> bool {
    let mut restored = true;
    for m in moved.iter().rev() {
        let target = dir.join(&m.rel);
        match &m.old {
            // The old version replaces the new one in one rename.
            Some(old) => restored &= std::fs::rename(old, &target).is_ok(),
            None if m.new_in_place => {
                let _ = std::fs::remove_file(&target);
            }
            None => {}
        }
    }
    for path in created.iter().rev() {
        let _ = std::fs::remove_dir(path);
    }
    restored
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_keep_secrets_private_and_scripts_runnable() {
        assert_eq!(file_mode(".env"), 0o600);
        assert_eq!(file_mode("secrets/db_root_password"), 0o600);
        assert_eq!(file_mode("secrets/tls/key.pem"), 0o600);
        assert_eq!(file_mode("web-01/db-start.sh"), 0o755);
        assert_eq!(file_mode("web-01/nginx.conf"), 0o644);
        assert_eq!(file_mode("web-01/secrets.txt"), 0o644);
        assert_eq!(dir_mode(Path::new("secrets")), 0o700);
        assert_eq!(dir_mode(Path::new("secrets/tls")), 0o700);
        assert_eq!(dir_mode(Path::new("web-01")), 0o755);
    }

    #[test]
    fn only_plain_relative_paths_are_written() {
        assert!(is_plain_relative("web-01/nginx.conf"));
        assert!(!is_plain_relative("../x"));
        assert!(!is_plain_relative("/etc/passwd"));
        assert!(!is_plain_relative("a/../../b"));
        assert!(!is_plain_relative(""));
    }
}
