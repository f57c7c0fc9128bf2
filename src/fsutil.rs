//! Small file-system helpers shared by saving and exporting.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Symbolic links followed at most, as the kernel does (`ELOOP`).
const MAX_LINKS: usize = 40;

/// Writes `bytes` to `path` through a temporary file in the same directory
/// and a rename, so readers see the old file or the new one, never half.
///
/// What the user sees as "the file" stays so: when `path` is a symbolic
/// link, the file it points to is replaced (the link stays a link), and an
/// existing file keeps its permission bits. A new file gets the usual
/// permissions (0666 less the umask).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let target = resolve_links(path)?;
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let existing = match std::fs::metadata(&target) {
        Ok(meta) if meta.is_file() => Some(meta.permissions()),
        Ok(_) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{} is not a regular file", target.display()),
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".topolab-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // The umask applies to this mode, as it does for any new file.
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    // The temporary file is ours, not the user's: an error names the
    // folder (tempfile's own message names the temporary file).
    let mut tmp = builder.tempfile_in(&dir).map_err(|e| {
        let why = match e.kind() {
            std::io::ErrorKind::NotFound => "the folder does not exist".to_owned(),
            std::io::ErrorKind::PermissionDenied => "no permission to write there".to_owned(),
            _ => e.to_string(),
        };
        std::io::Error::new(
            e.kind(),
            format!("cannot write in {}: {why}", dir.display()),
        )
    })?;
    if let Some(permissions) = existing {
        // Set after creation: the umask must not narrow the file's mode.
        tmp.as_file().set_permissions(permissions)?;
    }
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(&target).map_err(|e| e.error)?;
    // The rename is durable once the directory is synced; a directory that
    // cannot be opened for that still holds the new file.
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// `path` with every symbolic link at its end followed (the links in its
/// folders are the kernel's to follow). A dangling link resolves to the
/// path it names, so that writing creates the file there.
fn resolve_links(path: &Path) -> std::io::Result<PathBuf> {
    let mut at = path.to_owned();
    for _ in 0..MAX_LINKS {
        match std::fs::symlink_metadata(&at) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link = std::fs::read_link(&at)?;
                at = match at.parent() {
                    Some(parent) if link.is_relative() => parent.join(link),
                    _ => link,
                };
            }
            Ok(_) => return Ok(at),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(at),
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!(
            "{} is a chain of more than {MAX_LINKS} symbolic links",
            path.display()
        ),
    ))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).expect("metadata").permissions().mode() & 0o7777
    }

    #[test]
    fn an_existing_file_keeps_its_mode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("t.ron");
        std::fs::write(&file, "old").expect("write");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        write_atomic(&file, b"new").expect("written");
        assert_eq!(std::fs::read_to_string(&file).expect("read"), "new");
        assert_eq!(mode(&file), 0o640);
    }

    #[test]
    fn a_new_file_is_not_private_to_its_owner_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("new.ron");
        write_atomic(&file, b"x").expect("written");
        // Whatever the umask, a new file's owner can read and write it,
        // and the mode is the one `open` would give, never a temp file's.
        let probe = dir.path().join("probe");
        std::fs::write(&probe, "").expect("probe");
        assert_eq!(mode(&file), mode(&probe));
    }

    #[test]
    fn a_symlink_is_written_through_and_stays_a_link() {
        let dir = tempfile::tempdir().expect("tempdir");
        let real_dir = dir.path().join("real");
        std::fs::create_dir(&real_dir).expect("mkdir");
        let real = real_dir.join("t.ron");
        std::fs::write(&real, "old").expect("write");
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o604)).expect("chmod");
        let link = dir.path().join("link.ron");
        std::os::unix::fs::symlink("real/t.ron", &link).expect("symlink");
        write_atomic(&link, b"new").expect("written");
        assert!(
            std::fs::symlink_metadata(&link)
                .expect("link")
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&real).expect("read"), "new");
        assert_eq!(mode(&real), 0o604);
        // No temporary file is left beside the target.
        let names: Vec<_> = std::fs::read_dir(&real_dir)
            .expect("dir")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, [std::ffi::OsString::from("t.ron")]);
    }

    #[test]
    fn a_link_loop_is_an_error_not_a_hang() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::os::unix::fs::symlink(&b, &a).expect("symlink");
        std::os::unix::fs::symlink(&a, &b).expect("symlink");
        assert!(write_atomic(&a, b"x").is_err());
    }
}

/// topolab's data folder: `$TOPOLAB_DATA_DIR`, else `$XDG_DATA_HOME/topolab`,
/// else `~/.local/share/topolab`.
pub fn data_dir() -> std::path::PathBuf {
    if let Some(dir) = std::env::var_os("TOPOLAB_DATA_DIR") {
        return std::path::PathBuf::from(dir);
    }
    std::env::var_os("XDG_DATA_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".local/share"))
        })
        .unwrap_or_else(std::env::temp_dir)
        .join("topolab")
}
