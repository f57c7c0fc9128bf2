//! The application's releases, as a real server keeps them: each version
//! is a directory `/srv/app/releases/<version>/` holding the app's release
//! settings (`release.json`) and the static files Nginx serves
//! (`static/`). `/srv/app/current` is a symlink to the release that runs;
//! a deploy switches it atomically (a new link renamed over the old one),
//! then restarts the app. The directory is a volume of its own per host,
//! shared by the host's Nginx and app.
//!
//! Each shipped release differs visibly: `v1`, `v2` (its page and the
//! answer of `GET /` name it), and `v2-broken` (it starts, but its health
//! check fails, as a release with a missing setting would).

use serde::{Deserialize, Serialize};

use super::{Ctx, paths};
use crate::model::RELEASES;

/// A release's settings, read by the app when it starts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Release {
    /// Its version (the `X-Topolab-Version` header of every answer).
    pub version: String,
    /// What `GET /` says after the host's name, e.g. ` (release v2)`.
    pub greeting: String,
    /// Whether its health check passes.
    pub healthy: bool,
    /// Why not, when it does not.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub unhealthy_because: String,
}

/// The settings of the shipped release `version`.
pub fn release(version: &str) -> Release {
    match version {
        "v1" => Release {
            version: version.to_owned(),
            greeting: String::new(),
            healthy: true,
            unhealthy_because: String::new(),
        },
        "v2-broken" => Release {
            version: version.to_owned(),
            greeting: format!(" (release {version})"),
            healthy: false,
            unhealthy_because: "release v2-broken lacks its database setting: the app \
                                starts but cannot serve"
                .to_owned(),
        },
        _ => Release {
            version: version.to_owned(),
            greeting: format!(" (release {version})"),
            healthy: true,
            unhealthy_because: String::new(),
        },
    }
}

/// Where release `version`'s files are inside a container.
pub fn dir(version: &str) -> String {
    format!("{}/releases/{version}", paths::APP_DIR)
}

/// The bundle's files of every shipped release: `releases/<version>/...`
/// (shared by every host).
pub(super) fn files(ctx: &Ctx) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for version in RELEASES {
        let settings = release(version);
        let json = serde_json::to_string_pretty(&settings).unwrap_or_default() + "\n";
        out.push((format!("releases/{version}/release.json"), json));
        out.push((
            format!("releases/{version}/static/index.html"),
            page(ctx, &settings),
        ));
    }
    out
}

/// The files of every release, as (artifact, path in a container).
pub fn mounts() -> Vec<(String, String)> {
    RELEASES
        .iter()
        .flat_map(|v| {
            ["release.json", "static/index.html"]
                .map(|f| (format!("releases/{v}/{f}"), format!("{}/{f}", dir(v))))
        })
        .collect()
}

fn page(ctx: &Ctx, release: &Release) -> String {
    let look = match release.version.as_str() {
        "v1" => "",
        _ => "<style>body { background: #eef6ff; }</style>\n",
    };
    format!(
        "<!doctype html>\n<title>{domain} ({version})</title>\n{look}\
         <p>Static file of release {version}, served by Nginx from the host's \
         current release.</p>\n",
        domain = ctx.topology.domain,
        version = release.version,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{Secrets, Settings, generate};
    use crate::preset::Preset;

    fn reference_files() -> crate::generate::Artifacts {
        let t = Preset::find("reference")
            .and_then(|p| p.topology().ok())
            .expect("preset");
        generate(
            &t,
            &Settings::for_topology(&t),
            &Secrets::generate(&t.domain).expect("secrets"),
        )
        .expect("valid")
    }

    #[test]
    fn every_shipped_release_is_in_the_bundle_where_the_app_reads_it() {
        let files = reference_files();
        for (artifact, path) in mounts() {
            assert!(files.get(&artifact).is_some(), "{artifact}");
            assert!(path.starts_with("/srv/app/releases/"), "{path}");
        }
        for version in RELEASES {
            let json = files
                .get(&format!("releases/{version}/release.json"))
                .expect("release.json");
            let r: Release = serde_json::from_str(json).expect("valid JSON");
            assert_eq!(r.version, version);
            assert_eq!(r.healthy, version != "v2-broken", "{version}");
            let page = files
                .get(&format!("releases/{version}/static/index.html"))
                .expect("page");
            assert!(page.contains(version), "{page}");
        }
        // The releases differ visibly.
        assert_ne!(release("v1").greeting, release("v2").greeting);
        assert!(!release("v2-broken").unhealthy_because.is_empty());
    }

    #[test]
    fn nginx_serves_the_current_release_and_names_it() {
        let files = reference_files();
        let conf = files.get("web-01/nginx.conf").expect("nginx.conf");
        assert!(conf.contains("alias /srv/app/current/static/;"), "{conf}");
        assert!(
            conf.contains("map $realpath_root $topolab_release"),
            "{conf}"
        );
        assert!(
            conf.contains("add_header X-Topolab-Version $topolab_release always;"),
            "{conf}"
        );
        let compose = files.get("docker-compose.yml").expect("compose");
        assert!(compose.contains("- web-01-app:/srv/app"), "{compose}");
        assert!(
            compose.contains("./releases/v2/release.json:/srv/app/releases/v2/release.json:ro"),
            "{compose}"
        );
    }
}
