//! Golden files: the bundle of `reference.ron` with fixed secrets, for both
//! database flavors, and the Kubernetes manifests of `reference` and
//! `secured-monitored`. `UPDATE_GOLDEN=1 cargo test --test golden` rewrites
//! them; review the diff before committing.

mod support;

use std::path::Path;

use topolab::generate::kube::{self, KubeOptions};
use topolab::generate::{Artifacts, Settings, generate};
use topolab::model::Flavor;
use topolab::preset::Preset;

fn golden(flavor: Flavor) {
    let t = Preset::find("reference")
        .expect("preset")
        .topology()
        .expect("valid");
    let mut settings = Settings::for_topology(&t);
    settings.flavor = flavor;
    let files = generate(&t, &settings, &support::fixed_secrets()).expect("generates");
    let again = generate(&t, &settings, &support::fixed_secrets()).expect("generates");
    assert_eq!(files, again, "generation is not deterministic");
    compare(&files, &format!("reference-{}", flavor.as_str()));
}

/// The Kubernetes manifests of `preset` (MariaDB, the local images).
fn golden_kubernetes(preset: &str) {
    let t = Preset::find(preset)
        .expect("preset")
        .topology()
        .expect("valid");
    let mut settings = Settings::for_topology(&t);
    settings.flavor = Flavor::Mariadb;
    let options = KubeOptions::default();
    let files =
        kube::generate(&t, &settings, &support::fixed_secrets(), &options).expect("generates");
    let again =
        kube::generate(&t, &settings, &support::fixed_secrets(), &options).expect("generates");
    assert_eq!(files, again, "generation is not deterministic");
    compare(&files, &format!("{preset}-kubernetes"));
}

/// `files` against the golden folder `name`, or written there with
/// `UPDATE_GOLDEN=1`.
fn compare(files: &Artifacts, name: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        let _ = std::fs::remove_dir_all(&dir);
        for (rel, text) in files.iter() {
            let path = dir.join(rel);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, text).expect("write golden");
        }
    }
    let mut on_disk = Vec::new();
    collect(&dir, &dir, &mut on_disk);
    on_disk.sort();
    let generated: Vec<&str> = files.iter().map(|(p, _)| p).collect();
    assert_eq!(on_disk, generated, "the set of files changed");
    for (rel, text) in files.iter() {
        let want = std::fs::read_to_string(dir.join(rel)).expect("golden file");
        assert!(
            want == text,
            "{name}/{rel} differs from its golden file; UPDATE_GOLDEN=1 rewrites it.\n--- generated ---\n{text}"
        );
    }
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() {
            collect(root, &path, out);
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.push(rel.to_string_lossy().into_owned());
        }
    }
}

#[test]
fn reference_bundle_mysql() {
    golden(Flavor::Mysql);
}

#[test]
fn reference_bundle_mariadb() {
    golden(Flavor::Mariadb);
}

#[test]
fn reference_kubernetes_manifests() {
    golden_kubernetes("reference");
}

#[test]
fn secured_monitored_kubernetes_manifests() {
    golden_kubernetes("secured-monitored");
}
