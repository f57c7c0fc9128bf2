//! The lab's state as launched: topology, profile, secrets, ports. Kept in
//! a file readable only by its owner, so any later topolab process (`status`,
//! `down`, the GUI, faults) can act on a lab another process launched.
//! Roles are not trusted from here: they are re-derived from the databases.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::images::Profile;
use super::plan::EntryPoint;
use crate::generate::Secrets;
use crate::model::{Flavor, Topology};

/// State file format version.
const STATE_VERSION: u32 = 1;

/// What a lab was launched with.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LabState {
    /// Format version of this file.
    pub version: u32,
    /// The lab's name.
    pub lab: String,
    /// The topology as launched.
    pub topology: Topology,
    /// Image profile.
    pub profile: Profile,
    /// The database program that runs.
    pub flavor: Flavor,
    /// First /24 of its networks.
    pub first_subnet: Ipv4Addr,
    /// The app image.
    pub app_image: String,
    /// Where clients reach it.
    pub entry_points: Vec<EntryPoint>,
    /// The lab's secrets.
    pub secrets: Secrets,
    /// Faults injected and not yet healed.
    #[serde(default)]
    pub faults: Vec<super::fault::ActiveFault>,
}

/// Why state could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// File system error.
    #[error("lab state {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The file is not valid state.
    #[error("lab state {path} is damaged: {why}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
}

/// topolab's data folder: `$TOPOLAB_DATA_DIR`, else `$XDG_DATA_HOME/topolab`,
/// else `~/.local/share/topolab`.
pub fn data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TOPOLAB_DATA_DIR") {
        return PathBuf::from(dir);
    }
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(std::env::temp_dir)
        .join("topolab")
}

fn labs_dir() -> PathBuf {
    data_dir().join("labs")
}

/// The state file of `lab`.
pub fn state_path(lab: &str) -> PathBuf {
    labs_dir().join(format!("{lab}.json"))
}

/// The file that claims `lab` while a launch runs.
fn lock_path(lab: &str) -> PathBuf {
    labs_dir().join(format!("{lab}.lock"))
}

/// The env file of `lab` (its secrets as `NAME=value`, for `--explain`'s
/// `docker run --env-file`).
pub fn env_path(lab: &str) -> PathBuf {
    labs_dir().join(format!("{lab}.env"))
}

impl LabState {
    /// A new state of the current version.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        lab: String,
        topology: Topology,
        profile: Profile,
        flavor: Flavor,
        first_subnet: Ipv4Addr,
        app_image: String,
        entry_points: Vec<EntryPoint>,
        secrets: Secrets,
    ) -> Self {
        Self {
            version: STATE_VERSION,
            lab,
            topology,
            profile,
            flavor,
            first_subnet,
            app_image,
            entry_points,
            secrets,
            faults: Vec::new(),
        }
    }

    /// Writes the state and the env file, owner-only, atomically.
    pub fn save(&self) -> Result<(), StateError> {
        let dir = labs_dir();
        let io = |path: PathBuf| move |source| StateError::Io { path, source };
        std::fs::create_dir_all(&dir).map_err(io(dir.clone()))?;
        set_private(&dir, 0o700).map_err(io(dir.clone()))?;
        let path = state_path(&self.lab);
        let json = serde_json::to_string_pretty(self).map_err(|e| StateError::Damaged {
            path: path.clone(),
            why: e.to_string(),
        })?;
        write_private(&path, json.as_bytes()).map_err(io(path.clone()))?;
        let env: String = self
            .secrets
            .env()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect();
        let env_file = env_path(&self.lab);
        write_private(&env_file, env.as_bytes()).map_err(io(env_file.clone()))?;
        Ok(())
    }

    /// Reads the state of `lab`, `None` when there is none.
    pub fn load(lab: &str) -> Result<Option<Self>, StateError> {
        let path = state_path(lab);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(StateError::Io { path, source }),
        };
        let state: Self = serde_json::from_str(&text).map_err(|e| StateError::Damaged {
            path: path.clone(),
            why: e.to_string(),
        })?;
        if state.version != STATE_VERSION {
            return Err(StateError::Damaged {
                path,
                why: format!(
                    "version {} (this topolab reads {STATE_VERSION})",
                    state.version
                ),
            });
        }
        Ok(Some(state))
    }

    /// The names of labs with a state file.
    pub fn list() -> Vec<String> {
        let mut labs: Vec<String> = std::fs::read_dir(labs_dir())
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| n.strip_suffix(".json"))
                    .map(str::to_owned)
            })
            .collect();
        labs.sort();
        labs
    }

    /// Claims the name `lab` for one launch: fails with `AlreadyExists`
    /// while another launch (or a killed one) holds it; [`LabState::remove`]
    /// releases it.
    pub fn claim(lab: &str) -> Result<(), StateError> {
        let dir = labs_dir();
        let io = |path: PathBuf| move |source| StateError::Io { path, source };
        std::fs::create_dir_all(&dir).map_err(io(dir.clone()))?;
        let path = lock_path(lab);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io(path.clone()))?;
        Ok(())
    }

    /// Deletes the state, env and claim files of `lab` (absent is fine).
    pub fn remove(lab: &str) -> Result<(), StateError> {
        for path in [state_path(lab), env_path(lab), lock_path(lab)] {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(StateError::Io { path, source }),
            }
        }
        Ok(())
    }
}

fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    // NamedTempFile is created with mode 0600.
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    set_private(path, 0o600)
}

#[cfg(unix)]
fn set_private(path: &std::path::Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_private(_path: &std::path::Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}
