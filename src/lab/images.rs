//! Image profiles. `local`: a base image built on this machine with
//! debootstrap (no registry needed) plus the app image on top of it;
//! `official`: registry images plus the app image built locally.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::docker::{DockerError, Engine};
use crate::generate::Images;
use crate::model::Flavor;

/// The local base image.
pub const BASE_IMAGE: &str = "topolab-base:bookworm";
/// A ready MariaDB data directory inside the base image.
pub const DB_TEMPLATE: &str = crate::generate::paths::DB_TEMPLATE;
/// Debian packages in the base image: every program of the lab, plus what
/// faults and monitoring need.
pub const BASE_PACKAGES: &[&str] = &[
    "haproxy",
    "nginx-light",
    "mariadb-server",
    "mariadb-client",
    "iproute2",
    "iptables",
    "curl",
    "ca-certificates",
    "socat",
    "keepalived",
    "procps",
    "prometheus",
    "prometheus-mysqld-exporter",
    "pdns-server",
    "pdns-backend-bind",
];

/// The label on the base image naming the packages it was built with: an
/// image built by an older topolab (without a program the lab now runs)
/// is out of date, and is built again like a missing one.
pub const PACKAGES_LABEL: &str = "topolab.packages";

/// Whether the base image's labels say it has every package of
/// [`BASE_PACKAGES`].
pub fn base_is_current(labels: &HashMap<String, String>) -> bool {
    labels.get(PACKAGES_LABEL).is_some_and(|have| {
        let have: Vec<&str> = have.split(',').collect();
        BASE_PACKAGES.iter().all(|p| have.contains(p))
    })
}

/// The local base image's state: `None` when present and current, else
/// what is wrong with it.
pub async fn base_problem(engine: &Engine) -> Result<Option<&'static str>, ImageError> {
    Ok(match engine.image_labels(BASE_IMAGE).await? {
        None => Some("is missing"),
        Some(labels) if !base_is_current(&labels) => {
            Some("was built by an older topolab and lacks programs the lab now runs")
        }
        Some(_) => None,
    })
}

/// Where the images come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Built on this machine, no registry.
    Local,
    /// Pulled from a registry.
    Official,
}

impl Profile {
    /// The profile's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Official => "official",
        }
    }

    /// The database program this profile runs for a topology of `flavor`:
    /// Debian has no MySQL server, so `local` runs MariaDB in its place.
    pub fn effective_flavor(self, flavor: Flavor) -> Flavor {
        match self {
            Self::Local => Flavor::Mariadb,
            Self::Official => flavor,
        }
    }

    /// The images of this profile; `app` is the app image's tag.
    pub fn images(self, flavor: Flavor, app: &str) -> Images {
        match self {
            Self::Local => Images {
                holder: BASE_IMAGE.to_owned(),
                lb: BASE_IMAGE.to_owned(),
                web: BASE_IMAGE.to_owned(),
                app: app.to_owned(),
                db: BASE_IMAGE.to_owned(),
                monitoring: BASE_IMAGE.to_owned(),
                dns: BASE_IMAGE.to_owned(),
            },
            Self::Official => Images {
                holder: app.to_owned(),
                lb: "haproxy:2.6".to_owned(),
                web: "nginx:stable".to_owned(),
                app: app.to_owned(),
                db: match flavor {
                    Flavor::Mysql => "mysql:8.4".to_owned(),
                    Flavor::Mariadb => "mariadb:10.11".to_owned(),
                },
                monitoring: "prom/prometheus:latest".to_owned(),
                dns: "powerdns/pdns-auth-47:4.7.3".to_owned(),
            },
        }
    }

    /// The image the app image is built on.
    fn app_base(self) -> &'static str {
        match self {
            Self::Local => BASE_IMAGE,
            Self::Official => "debian:bookworm-slim",
        }
    }
}

/// Why images could not be made or found.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// A Docker call failed.
    #[error(transparent)]
    Docker(#[from] DockerError),
    /// A needed image is absent.
    #[error("image {image} is missing: {fix}")]
    Missing {
        /// The image.
        image: String,
        /// The command that makes it.
        fix: String,
    },
    /// The base image could not be built.
    #[error("cannot build {BASE_IMAGE}: {0}")]
    Build(String),
}

/// The app image's tag for the running binary: the version plus a
/// fingerprint of the binary (size and modification time), so an image of
/// older code is never used with newer code.
pub fn app_image_tag(profile: Profile) -> Result<String, ImageError> {
    let exe = current_exe()?;
    let meta = std::fs::metadata(&exe)
        .map_err(|e| ImageError::Build(format!("{}: {e}", exe.display())))?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    meta.len().hash(&mut h);
    meta.modified().ok().hash(&mut h);
    profile.as_str().hash(&mut h);
    Ok(format!(
        "topolab-app:{}-{:016x}",
        env!("CARGO_PKG_VERSION"),
        h.finish()
    ))
}

fn current_exe() -> Result<PathBuf, ImageError> {
    std::env::current_exe()
        .map_err(|e| ImageError::Build(format!("cannot find the topolab binary: {e}")))
}

/// What is present, for `topolab images status`.
pub async fn status(engine: &Engine) -> Result<Vec<(String, bool)>, ImageError> {
    let mut out = Vec::new();
    for profile in [Profile::Local, Profile::Official] {
        let tag = app_image_tag(profile)?;
        let mut images: Vec<String> = Vec::new();
        for flavor in Flavor::ALL {
            let i = profile.images(flavor, &tag);
            for image in [i.holder, i.lb, i.web, i.db, i.app, i.monitoring, i.dns] {
                if !images.contains(&image) {
                    images.push(image);
                }
            }
        }
        for image in images {
            let present = engine.image_labels(&image).await?.is_some();
            out.push((format!("{:<9}{image}", profile.as_str()), present));
        }
    }
    Ok(out)
}

/// Which profile `up` uses: the one asked for, else `local` when its base
/// image is present, else `official` when its images are, else an error
/// naming the command that makes them.
pub async fn pick_profile(
    engine: &Engine,
    wanted: Option<Profile>,
    flavor: Flavor,
) -> Result<Profile, ImageError> {
    let check = async |profile: Profile| -> Result<Option<String>, ImageError> {
        if profile == Profile::Local && base_problem(engine).await?.is_some() {
            return Ok(Some(BASE_IMAGE.to_owned()));
        }
        let images = profile.images(flavor, "app");
        for image in [images.lb, images.web, images.db] {
            if engine.image_labels(&image).await?.is_none() {
                return Ok(Some(image));
            }
        }
        Ok(None)
    };
    let fix = |p: Profile| match p {
        Profile::Local => "run `topolab images build`, or launch with `topolab up --build-images` \
             (builds them on this machine in about a minute, no registry needed)"
            .to_owned(),
        Profile::Official => "run `topolab images pull` (needs a registry)".to_owned(),
    };
    if let Some(p) = wanted {
        return match check(p).await? {
            None => Ok(p),
            Some(image) => Err(ImageError::Missing { image, fix: fix(p) }),
        };
    }
    if check(Profile::Local).await?.is_none() {
        return Ok(Profile::Local);
    }
    if check(Profile::Official).await?.is_none() {
        return Ok(Profile::Official);
    }
    Err(ImageError::Missing {
        image: BASE_IMAGE.to_owned(),
        fix: fix(Profile::Local),
    })
}

/// Builds the app image for the running binary unless it exists; returns
/// its tag.
pub async fn ensure_app_image(engine: &Engine, profile: Profile) -> Result<String, ImageError> {
    let tag = app_image_tag(profile)?;
    if engine.image_labels(&tag).await?.is_some() {
        return Ok(tag);
    }
    let base = profile.app_base();
    if engine.image_labels(base).await?.is_none() {
        return Err(ImageError::Missing {
            image: base.to_owned(),
            fix: match profile {
                Profile::Local => "run `topolab images build`".to_owned(),
                Profile::Official => "run `topolab images pull`".to_owned(),
            },
        });
    }
    let exe = current_exe()?;
    let binary =
        std::fs::read(&exe).map_err(|e| ImageError::Build(format!("{}: {e}", exe.display())))?;
    // The holders of the official profile run this image too: readiness
    // checks need curl in it (the local base image has it).
    let tools = match profile {
        Profile::Local => "",
        Profile::Official => {
            "RUN apt-get update && apt-get install -y --no-install-recommends curl iproute2 \
             && rm -rf /var/lib/apt/lists/*\n"
        }
    };
    let dockerfile = format!(
        "FROM {base}\n{tools}COPY topolab /usr/local/bin/topolab\nCMD [\"topolab\", \"app\", \"--config\", \"{}/app.json\"]\n",
        crate::generate::paths::CONFIG_DIR
    );
    let context = tar_of(&[
        ("Dockerfile", dockerfile.as_bytes(), 0o644),
        ("topolab", &binary, 0o755),
    ])
    .map_err(|e| ImageError::Build(e.to_string()))?;
    let labels = HashMap::from([("topolab.image".to_owned(), "app".to_owned())]);
    engine.build(context, &tag, labels).await?;
    // App images of older binaries are dead weight (each holds a copy of the
    // binary); one still used by a running lab is kept by the engine.
    for old in engine.image_tags("topolab.image=app").await? {
        if old != tag {
            let _ = engine.remove_image(&old).await;
        }
    }
    Ok(tag)
}

/// Pulls the official profile's images.
pub async fn pull(engine: &Engine, progress: &(dyn Fn(String) + Sync)) -> Result<(), ImageError> {
    let mut seen = Vec::new();
    for flavor in Flavor::ALL {
        let i = Profile::Official.images(flavor, "");
        for image in [
            i.lb,
            i.web,
            i.db,
            i.monitoring,
            i.dns,
            "debian:bookworm-slim".to_owned(),
        ] {
            if !seen.contains(&image) {
                engine.pull(&image, progress).await?;
                seen.push(image);
            }
        }
    }
    Ok(())
}

/// A tarball of (path, bytes, mode) entries, directories included.
pub fn tar_of(files: &[(&str, &[u8], u32)]) -> std::io::Result<Bytes> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut dirs: Vec<String> = Vec::new();
    for (path, _, _) in files {
        let mut acc = String::new();
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        for part in &parts[..parts.len().saturating_sub(1)] {
            acc.push_str(part);
            acc.push('/');
            if !dirs.contains(&acc) {
                dirs.push(acc.clone());
            }
        }
    }
    for dir in &dirs {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_mode(0o755);
        header.set_size(0);
        header.set_mtime(0);
        builder.append_data(&mut header, dir, std::io::empty())?;
    }
    for (path, bytes, mode) in files {
        let mut header = tar::Header::new_gnu();
        header.set_mode(*mode);
        header.set_size(bytes.len() as u64);
        header.set_mtime(0);
        builder.append_data(&mut header, path.trim_start_matches('/'), *bytes)?;
    }
    Ok(Bytes::from(builder.into_inner()?))
}

/// The Debian mirror this machine's apt uses (deb822 or one-line sources),
/// so the base image comes from the same place; never written in the repo.
pub fn debian_mirror() -> Option<String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir("/etc/apt/sources.list.d")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        // What apt reads: not the files set aside (`x.list.disabled`).
        .filter(|p| p.extension().is_some_and(|e| e == "list" || e == "sources"))
        .collect();
    files.sort();
    files.push(PathBuf::from("/etc/apt/sources.list"));
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        for line in text.lines().map(str::trim) {
            let uri = if let Some(rest) = line.strip_prefix("URIs:") {
                rest.split_whitespace().next()
            } else if let Some(rest) = line.strip_prefix("deb ") {
                rest.split_whitespace().find(|w| w.contains("://"))
            } else {
                None
            };
            if let Some(uri) = uri
                && !uri.contains("security")
            {
                return Some(uri.to_owned());
            }
        }
    }
    None
}

/// The Debian release of this machine (`bookworm`).
fn debian_release() -> Option<String> {
    let text = std::fs::read_to_string("/etc/os-release").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("VERSION_CODENAME="))
        .map(|s| s.trim_matches('"').to_owned())
}

/// How long debootstrap may take (it takes about a minute and a half).
const DEBOOTSTRAP_LIMIT: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Builds the local base image: debootstrap of this machine's Debian
/// release with [`BASE_PACKAGES`], cleaned, then `docker import`ed.
/// `progress` receives one line per stage.
pub async fn build_base(
    engine: &Engine,
    progress: &(dyn Fn(String) + Sync),
) -> Result<(), ImageError> {
    let err = |s: String| ImageError::Build(s);
    let release = debian_release().ok_or_else(|| {
        err("this machine is not Debian (no VERSION_CODENAME in /etc/os-release)".to_owned())
    })?;
    let mirror = debian_mirror().ok_or_else(|| {
        err("no Debian mirror found in /etc/apt/sources.list.d or /etc/apt/sources.list".to_owned())
    })?;
    let debootstrap = ["/usr/sbin/debootstrap", "/usr/bin/debootstrap"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .ok_or_else(|| {
            err("debootstrap is not installed: `sudo apt-get install debootstrap`".to_owned())
        })?;
    let work = tempfile::Builder::new()
        .prefix("topolab-rootfs-")
        .tempdir_in("/var/tmp")
        .map_err(|e| err(format!("cannot create a work folder in /var/tmp: {e}")))?;
    let root = work.path().join("rootfs");
    let cache = cache_dir().join("debootstrap");
    std::fs::create_dir_all(&cache).map_err(|e| err(format!("{}: {e}", cache.display())))?;
    progress(format!(
        "debootstrap {release} with {} packages (about a minute)",
        BASE_PACKAGES.len()
    ));
    // debootstrap downloads with wget, whose defaults wait 15 minutes on a
    // silent connection and try 20 times: a stalled mirror would hold the
    // build for hours. These give up on a silent connection after a minute,
    // and the whole bootstrap after DEBOOTSTRAP_LIMIT.
    let wgetrc = work.path().join("wgetrc");
    std::fs::write(
        &wgetrc,
        "connect_timeout = 30\nread_timeout = 60\ntries = 5\n",
    )
    .map_err(|e| err(format!("{}: {e}", wgetrc.display())))?;
    let run = tokio::process::Command::new(debootstrap)
        .arg("--variant=minbase")
        .arg(format!("--include={}", BASE_PACKAGES.join(",")))
        .arg(format!("--cache-dir={}", cache.display()))
        .arg(&release)
        .arg(&root)
        .arg(&mirror)
        .env("WGETRC", &wgetrc)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(DEBOOTSTRAP_LIMIT, run)
        .await
        .map_err(|_| {
            err(format!(
                "debootstrap did not finish within {} minutes: is the Debian mirror {mirror} \
                 answering? (`apt-get update` tells)",
                DEBOOTSTRAP_LIMIT.as_secs() / 60
            ))
        })?
        .map_err(|e| err(format!("cannot run debootstrap: {e}")))?;
    if !output.status.success() {
        let log = String::from_utf8_lossy(&output.stdout);
        let tail: Vec<&str> = log.lines().rev().take(15).collect();
        return Err(err(format!(
            "debootstrap failed (it needs root):\n{}{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    progress("cleaning the root file system".to_owned());
    // The package's own data directory would be copied into every new
    // volume; topolab initializes its databases itself.
    for dir in [
        "var/lib/mysql",
        "var/cache/apt/archives",
        "var/lib/apt/lists",
    ] {
        let path = root.join(dir);
        if let Ok(entries) = std::fs::read_dir(&path) {
            for e in entries.flatten() {
                let p = e.path();
                let _ = if p.is_dir() {
                    std::fs::remove_dir_all(&p)
                } else {
                    std::fs::remove_file(&p)
                };
            }
        }
    }
    progress(format!("importing {BASE_IMAGE}"));
    let mut tar = tokio::process::Command::new("tar")
        .arg("-C")
        .arg(&root)
        .arg("-c")
        .arg(".")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| err(format!("cannot run tar: {e}")))?;
    let stdout = tar
        .stdout
        .take()
        .ok_or_else(|| err("tar has no output".to_owned()))?;
    let stream = futures_util::StreamExt::filter_map(
        tokio_util::io::ReaderStream::new(stdout),
        |chunk| async move { chunk.ok() },
    );
    let (repo, tag) = BASE_IMAGE.split_once(':').unwrap_or((BASE_IMAGE, "latest"));
    engine
        .import_rootfs(
            stream,
            repo,
            tag,
            vec![
                "LABEL topolab.image=base".to_owned(),
                format!("LABEL {PACKAGES_LABEL}={}", BASE_PACKAGES.join(",")),
                "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_owned(),
                "CMD [\"sleep\", \"infinity\"]".to_owned(),
            ],
        )
        .await?;
    let status = tar.wait().await.map_err(|e| err(format!("tar: {e}")))?;
    if !status.success() {
        return Err(err(format!(
            "tar of the root file system failed ({status})"
        )));
    }
    progress(
        "preparing a ready MariaDB data directory (saves a second per database start)".to_owned(),
    );
    add_db_template(engine, repo, tag).await
}

/// Initializes a MariaDB data directory once, at [`DB_TEMPLATE`], and
/// commits it into the base image: `db-start.sh` copies it instead of
/// running `mariadb-install-db` (about 1.3 s) at every first start.
async fn add_db_template(engine: &Engine, repo: &str, tag: &str) -> Result<(), ImageError> {
    let name = format!("topolab-image-build-{}", std::process::id());
    let script = format!(
        "set -e; mkdir -p {DB_TEMPLATE}; chown mysql:mysql {DB_TEMPLATE}; \
         mariadb-install-db --user=mysql --datadir={DB_TEMPLATE} --skip-test-db \
         --auth-root-authentication-method=socket --innodb-log-file-size=8M > /dev/null"
    );
    let result = async {
        let (code, log) = engine
            .run_once(&name, BASE_IMAGE, &["sh", "-c", &script])
            .await?;
        if code != 0 {
            return Err(ImageError::Build(format!(
                "mariadb-install-db failed ({code}):\n{log}"
            )));
        }
        let labels = HashMap::from([("topolab.image".to_owned(), "base".to_owned())]);
        engine
            .commit(&name, repo, tag, &["sleep", "infinity"], labels)
            .await?;
        Ok(())
    }
    .await;
    engine.remove_container(&name).await?;
    result
}

/// topolab's cache folder (`$XDG_CACHE_HOME/topolab` or `~/.cache/topolab`).
pub fn cache_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("topolab")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_profile_runs_mariadb_for_mysql() {
        assert_eq!(
            Profile::Local.effective_flavor(Flavor::Mysql),
            Flavor::Mariadb
        );
        assert_eq!(
            Profile::Official.effective_flavor(Flavor::Mysql),
            Flavor::Mysql
        );
        assert_eq!(Profile::Official.images(Flavor::Mysql, "a").db, "mysql:8.4");
    }

    #[test]
    fn tar_has_parent_directories() {
        let tar = tar_of(&[("etc/topolab/a.cfg", b"x", 0o644)]).expect("tar");
        let mut archive = tar::Archive::new(&tar[..]);
        let names: Vec<String> = archive
            .entries()
            .expect("entries")
            .flatten()
            .map(|e| e.path().expect("path").display().to_string())
            .collect();
        assert_eq!(names, ["etc/", "etc/topolab/", "etc/topolab/a.cfg"]);
    }
}
