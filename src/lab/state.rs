//! The lab's state as launched: topology, profile, secrets, ports. Kept in
//! a file readable only by its owner, so any later topolab process (`status`,
//! `down`, the GUI, faults) can act on a lab another process launched.
//! Roles are not trusted from here: they are re-derived from the databases.
//!
//! Every change (a fault, a heal, a promotion, a scenario's step) loads,
//! changes and saves the state under the lab's exclusive lock
//! ([`LabState::lock`]), so two topolab processes acting on one lab at once
//! (two terminals, the app and a terminal) take turns instead of losing
//! each other's records.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::images::Profile;
use crate::generate::{Secrets, Settings};
use crate::model::{AddressPlan, Flavor, HostNumbers, Topology, host_numbers};
use crate::protocol::{ActiveFault, EntryPoint};

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
    /// Where its DNS servers answer on this machine.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_servers: Vec<crate::protocol::DnsEndpoint>,
    /// Where its virtual IPs are published on this machine.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vip_ports: Vec<crate::protocol::VipEndpoint>,
    /// Whether its networks are bridges or overlays of a swarm.
    #[serde(default)]
    pub network_driver: super::docker::NetworkDriver,
    /// The engines it spans, its home first (empty: the one engine of
    /// `DOCKER_HOST`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub engines: Vec<super::engines::EngineRef>,
    /// Each host's engine, by name, when it spans engines.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub placement: crate::placement::Placement,
    /// Where each database is published on 127.0.0.1 for topolab, through
    /// the `reach` forwarder (a lab on overlays, which this machine has no
    /// leg on).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub reach_ports: std::collections::BTreeMap<crate::model::HostName, u16>,
    /// The lab's secrets.
    pub secrets: Secrets,
    /// Faults injected and not yet healed.
    #[serde(default)]
    pub faults: Vec<ActiveFault>,
    /// Regions cut off the others (`partition`), not yet healed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partitions: Vec<String>,
    /// Each host's number in the lab's subnets, kept while the host exists
    /// (empty in a lab launched before hosts kept them: file order).
    #[serde(default)]
    pub numbers: HostNumbers,
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
    /// No state file: the lab is unknown here.
    #[error("no lab named {lab} is known here (launch it with `topolab up`)")]
    Missing {
        /// The lab.
        lab: String,
    },
    /// Another topolab kept the lab's state locked for too long.
    #[error(
        "lab {lab} is being changed by another topolab (a fault, heal, promotion or scenario \
         step) and stayed locked for {} s: try again when it is done",
        waited.as_secs()
    )]
    Busy {
        /// The lab.
        lab: String,
        /// How long this process waited.
        waited: Duration,
    },
}

pub use crate::fsutil::data_dir;

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

/// The file whose lock serializes changes to `lab`'s state. It is never
/// replaced (the state file is, by a rename), so every process locks the
/// same file.
fn state_lock_path(lab: &str) -> PathBuf {
    labs_dir().join(format!("{lab}.state-lock"))
}

/// Where earlier versions kept a lab's secrets as `NAME=value`; removed
/// with the lab.
fn legacy_env_path(lab: &str) -> PathBuf {
    labs_dir().join(format!("{lab}.env"))
}

/// How long a change waits for another process's change to the same lab.
/// A promotion may wait up to about half a minute for a replica to catch up.
pub const LOCK_WAIT: Duration = Duration::from_secs(120);

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
            profile,
            flavor,
            first_subnet,
            app_image,
            entry_points,
            dns_servers: Vec::new(),
            vip_ports: Vec::new(),
            network_driver: super::docker::NetworkDriver::Bridge,
            engines: Vec::new(),
            reach_ports: std::collections::BTreeMap::new(),
            placement: crate::placement::Placement::new(),
            numbers: host_numbers(&topology, &HostNumbers::new()),
            topology,
            secrets,
            faults: Vec::new(),
            partitions: Vec::new(),
        }
    }

    /// Keeps the placement of a lab over several engines in step with its
    /// hosts: a host added while it runs (`apply`) runs on the home engine,
    /// where the engine's calls go for a host placed nowhere; a removed
    /// host leaves the placement.
    pub fn place_new_hosts(&mut self) {
        let Some(home) = self.engines.first().map(|e| e.name.clone()) else {
            return;
        };
        let hosts: Vec<crate::model::HostName> =
            self.topology.hosts.iter().map(|h| h.name.clone()).collect();
        self.placement.retain(|h, _| hosts.contains(h));
        for host in hosts {
            self.placement.entry(host).or_insert_with(|| home.clone());
        }
    }

    /// Where each host of the lab is on its networks.
    pub fn addresses(&self) -> AddressPlan {
        AddressPlan::numbered(&self.topology, self.first_subnet, &self.numbers)
    }

    /// Every port the lab publishes on 127.0.0.1: its entry points, DNS
    /// servers, virtual IPs and database forwarder.
    pub fn published_ports(&self) -> std::collections::BTreeSet<u16> {
        let entry = self
            .entry_points
            .iter()
            .flat_map(|e| [Some(e.http), e.https]);
        let vips = self.vip_ports.iter().flat_map(|v| [Some(v.http), v.https]);
        entry
            .chain(vips)
            .flatten()
            .chain(self.dns_servers.iter().map(|d| d.port))
            .chain(self.reach_ports.values().copied())
            .collect()
    }

    /// Each virtual IP of the lab with its address.
    pub fn vips(&self) -> Vec<(crate::model::Vip, std::net::Ipv4Addr)> {
        super::plan::vip_addresses(&self.topology, &self.addresses())
    }

    /// How the lab's files are generated: what runs, where its hosts are.
    pub fn settings(&self) -> Settings {
        Settings {
            lab: self.lab.clone(),
            flavor: self.flavor,
            first_subnet: self.first_subnet,
            images: self.profile.images(self.flavor, &self.app_image),
            numbers: host_numbers(&self.topology, &self.numbers),
        }
    }

    /// Writes the state, owner-only, atomically. Changes to a running lab
    /// save through [`Locked::save`] instead.
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
        Ok(())
    }

    /// Takes `lab`'s exclusive lock (waiting up to `wait` for another
    /// process that holds it), then reads its state: `None` when the lab
    /// has none. The lock is held until the [`Locked`] is dropped.
    /// Blocking: async code calls it through `spawn_blocking`.
    pub fn lock(lab: &str, wait: Duration) -> Result<Option<Locked>, StateError> {
        let file = lock_file(lab, wait)?;
        Ok(Self::load(lab)?.map(|state| Locked { state, _file: file }))
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

    /// Deletes the state and claim files of `lab` (absent is fine), under
    /// its lock when it can be had within a few seconds: a change in
    /// progress finishes (and saves) first instead of bringing the file
    /// back afterwards.
    pub fn remove(lab: &str) -> Result<(), StateError> {
        let held = lock_file(lab, Duration::from_secs(10)).ok();
        for path in [
            state_path(lab),
            legacy_env_path(lab),
            lock_path(lab),
            state_lock_path(lab),
        ] {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(StateError::Io { path, source }),
            }
        }
        drop(held);
        Ok(())
    }
}

/// Takes `lab`'s lock (waiting up to [`LOCK_WAIT`]) and reads its state,
/// off the async runtime's threads.
pub async fn lock(lab: &str) -> Result<Locked, StateError> {
    let name = lab.to_owned();
    let locked = tokio::task::spawn_blocking(move || LabState::lock(&name, LOCK_WAIT))
        .await
        .map_err(|e| StateError::Io {
            path: state_path(lab),
            source: std::io::Error::other(e.to_string()),
        })??;
    locked.ok_or_else(|| StateError::Missing {
        lab: lab.to_owned(),
    })
}

/// A lab's state read under the lab's exclusive lock, which is held until
/// this is dropped. Reads and changes go through `Deref`; [`Locked::save`]
/// writes them (after each step that cannot be undone, so a crash or a
/// failure half-way never leaves the file behind the lab).
#[derive(Debug)]
pub struct Locked {
    state: LabState,
    _file: std::fs::File,
}

impl Locked {
    /// Writes the state as it is now.
    pub fn save(&self) -> Result<(), StateError> {
        self.state.save()
    }

    /// A copy of the state (the lock stays here).
    pub fn snapshot(&self) -> LabState {
        self.state.clone()
    }
}

impl std::ops::Deref for Locked {
    type Target = LabState;

    fn deref(&self) -> &LabState {
        &self.state
    }
}

impl std::ops::DerefMut for Locked {
    fn deref_mut(&mut self) -> &mut LabState {
        &mut self.state
    }
}

/// Opens and locks `lab`'s lock file, polling while another process holds
/// it, for up to `wait`.
fn lock_file(lab: &str, wait: Duration) -> Result<std::fs::File, StateError> {
    lock_file_in(&labs_dir(), lab, wait)
}

fn lock_file_in(
    dir: &std::path::Path,
    lab: &str,
    wait: Duration,
) -> Result<std::fs::File, StateError> {
    let dir = dir.to_owned();
    let io = |path: PathBuf| move |source| StateError::Io { path, source };
    std::fs::create_dir_all(&dir).map_err(io(dir.clone()))?;
    set_private(&dir, 0o700).map_err(io(dir.clone()))?;
    let path = dir.join(format!("{lab}.state-lock"));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io(path.clone()))?;
    let start = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if start.elapsed() < wait => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StateError::Busy {
                    lab: lab.to_owned(),
                    waited: start.elapsed(),
                });
            }
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(StateError::Io { path, source });
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_published_port_is_listed_once() {
        use crate::model::HostName;
        use crate::protocol::{DnsEndpoint, VipEndpoint};
        let topology = crate::preset::Preset::find("reference")
            .expect("preset")
            .topology()
            .expect("valid");
        let entry = EntryPoint {
            host: HostName::new("lb-01"),
            http: 8080,
            https: Some(8443),
        };
        let mut state = LabState::new(
            "demo".to_owned(),
            topology,
            Profile::Local,
            Flavor::Mysql,
            Ipv4Addr::new(10, 213, 0, 0),
            "app".to_owned(),
            vec![entry],
            Secrets::generate("www.foobar.com").expect("secrets"),
        );
        state.dns_servers.push(DnsEndpoint {
            host: HostName::new("dns-01"),
            port: 5353,
        });
        state.vip_ports.push(VipEndpoint {
            number: 220,
            http: 9080,
            https: None,
        });
        state.reach_ports.insert(HostName::new("web-01"), 40001);
        state.reach_ports.insert(HostName::new("web-02"), 8080);
        let ports: Vec<u16> = state.published_ports().into_iter().collect();
        assert_eq!(ports, [5353, 8080, 8443, 9080, 40001]);
    }

    #[test]
    fn the_lock_serializes_changes_and_a_held_lock_is_reported_busy() {
        let dir = tempfile::tempdir().expect("dir");
        let counter = dir.path().join("counter");
        std::fs::write(&counter, "0").expect("write");
        // Eight read-change-write cycles at once: none is lost.
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (dir, counter) = (dir.path().to_owned(), counter.clone());
                std::thread::spawn(move || {
                    let _held = lock_file_in(&dir, "demo", Duration::from_secs(10)).expect("lock");
                    let n: u32 = std::fs::read_to_string(&counter)
                        .expect("read")
                        .parse()
                        .expect("number");
                    std::thread::sleep(Duration::from_millis(5));
                    std::fs::write(&counter, (n + 1).to_string()).expect("write");
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        assert_eq!(std::fs::read_to_string(&counter).expect("read"), "8");
        let held = lock_file_in(dir.path(), "demo", Duration::ZERO).expect("lock");
        let busy = lock_file_in(dir.path(), "demo", Duration::from_millis(50))
            .expect_err("held elsewhere")
            .to_string();
        assert!(
            busy.contains("lab demo is being changed by another topolab"),
            "{busy}"
        );
        // Another lab's lock is another file.
        assert!(lock_file_in(dir.path(), "other", Duration::ZERO).is_ok());
        drop(held);
        assert!(lock_file_in(dir.path(), "demo", Duration::ZERO).is_ok());
    }
}
