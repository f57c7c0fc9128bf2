//! The Kubernetes bundle, checked offline: every preset that can be
//! exported reads back as manifests whose names, mounts and ports agree
//! with each other and with the configs inside them, and that the
//! Kubernetes schemas accept; every other preset is refused with its
//! reasons.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;
use support::kube::Manifests;
use topolab::generate::kube::{self, KubeOptions, ServiceType};
use topolab::generate::{Artifacts, Secrets, Settings};
use topolab::model::{Flavor, Topology};
use topolab::preset::{PRESETS, Preset};

fn topology(preset: &str) -> Topology {
    Preset::find(preset)
        .expect("preset")
        .topology()
        .expect("valid")
}

fn bundle(t: &Topology, options: &KubeOptions) -> Result<Artifacts, kube::KubeError> {
    let mut settings = Settings::for_topology(t);
    settings.flavor = Flavor::Mariadb;
    let secrets = Secrets::generate(&t.domain).expect("secrets");
    kube::generate(t, &settings, &secrets, options)
}

fn write(files: &Artifacts) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("k8s");
    topolab::export::write_bundle(files, &out).expect("written");
    dir
}

/// The presets the bundle can express, each with its manifests read back.
fn exportable() -> Vec<(String, tempfile::TempDir)> {
    PRESETS
        .iter()
        .filter_map(|p| {
            let t = p.topology().expect("valid");
            let files = bundle(&t, &KubeOptions::default()).ok()?;
            Some((p.name.to_owned(), write(&files)))
        })
        .collect()
}

fn dir(tmp: &tempfile::TempDir) -> std::path::PathBuf {
    tmp.path().join("k8s")
}

fn pods(m: &Manifests) -> impl Iterator<Item = &Value> {
    m.of_kind("StatefulSet")
}

fn name(o: &Value) -> &str {
    o["metadata"]["name"].as_str().expect("a name")
}

fn list(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

#[test]
fn presets_are_exported_or_refused_with_their_reasons() {
    let mut exported = Vec::new();
    for p in PRESETS {
        let t = p.topology().expect("valid");
        match bundle(&t, &KubeOptions::default()) {
            Ok(_) => exported.push(p.name),
            Err(e) => {
                let text = e.to_string();
                let why = kube::unsupported(&t);
                assert!(
                    !why.is_empty(),
                    "{}: refused without a reason: {text}",
                    p.name
                );
                for reason in why {
                    assert!(text.contains(&reason), "{}: {text}", p.name);
                }
                let named = (!t.vips().is_empty() && text.contains("virtual IP"))
                    || (t.dns_servers().next().is_some() && text.contains("DNS server"))
                    || text.contains("regions");
                assert!(named, "{}: the reason names nothing: {text}", p.name);
            }
        }
    }
    for must in ["reference", "secured-monitored", "active-passive", "scaled"] {
        assert!(exported.contains(&must), "{must} was refused");
    }
    for refused in ["vip", "dns", "two-regions"] {
        assert!(!exported.contains(&refused), "{refused} was exported");
    }
}

#[test]
fn every_name_a_config_uses_is_a_service_of_the_bundle_on_a_port_it_has() {
    for (preset, tmp) in exportable() {
        let m = Manifests::read(&dir(&tmp));
        let ns = name(m.of_kind("Namespace").next().expect("a namespace")).to_owned();
        let suffix = format!(".{ns}.svc.cluster.local");
        let mut uses = 0;
        for cm in m.of_kind("ConfigMap") {
            for (key, text) in cm["data"].as_object().expect("data") {
                let text = text.as_str().expect("text");
                for (at, _) in text.match_indices(&suffix) {
                    let host: String = text[..at]
                        .chars()
                        .rev()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                        .collect();
                    // `NAME:PORT`, or SQL's `..._HOST = 'NAME', ..._PORT = PORT`.
                    let rest = &text[at + suffix.len()..];
                    let line = rest.lines().next().unwrap_or("");
                    let after = rest
                        .strip_prefix(':')
                        .or_else(|| line.find("_PORT = ").map(|i| &line[i + "_PORT = ".len()..]));
                    let port: String = after
                        .unwrap_or("")
                        .chars()
                        .take_while(char::is_ascii_digit)
                        .collect();
                    let service = m.get("Service", &host).unwrap_or_else(|| {
                        panic!(
                            "{preset}: {}/{key} names {host}, which is no Service",
                            name(cm)
                        )
                    });
                    let port: u64 = port.parse().unwrap_or_else(|_| {
                        panic!("{preset}: {}/{key} names {host} without a port", name(cm))
                    });
                    assert!(
                        list(&service["spec"]["ports"])
                            .iter()
                            .any(|p| p["port"] == port),
                        "{preset}: {}/{key} reaches {host} on {port}, which its Service lacks",
                        name(cm)
                    );
                    uses += 1;
                }
            }
        }
        assert!(uses >= 1, "{preset}: no config names a host");
        if preset == "reference" {
            // Two HAProxy servers, each app's writer and reader, and the
            // replica's source.
            assert_eq!(uses, 7, "{preset}");
        }
    }
}

#[test]
fn every_config_map_key_and_secret_is_mounted_and_every_mount_exists() {
    for (preset, tmp) in exportable() {
        let m = Manifests::read(&dir(&tmp));
        // (ConfigMap or Secret, key) -> mounted somewhere.
        let mut keys: BTreeMap<(String, String), bool> = BTreeMap::new();
        for cm in m.of_kind("ConfigMap") {
            for key in cm["data"].as_object().expect("data").keys() {
                keys.insert((name(cm).to_owned(), key.clone()), false);
            }
        }
        for s in m.of_kind("Secret") {
            for key in s["stringData"].as_object().expect("stringData").keys() {
                keys.insert((name(s).to_owned(), key.clone()), false);
            }
        }
        for set in pods(&m) {
            let pod = &set["spec"]["template"]["spec"];
            // Pod volume -> (source, item path -> key).
            let mut volumes: BTreeMap<&str, (String, BTreeMap<String, String>)> = BTreeMap::new();
            for v in list(&pod["volumes"]) {
                let source = v
                    .get("configMap")
                    .map(|c| (c["name"].as_str(), c))
                    .or_else(|| v.get("secret").map(|s| (s["secretName"].as_str(), s)));
                let Some((Some(source), spec)) = source else {
                    continue;
                };
                let items = list(&spec["items"])
                    .iter()
                    .map(|i| {
                        let key = i["key"].as_str().expect("key").to_owned();
                        assert!(
                            keys.contains_key(&(source.to_owned(), key.clone())),
                            "{preset}: {} asks {source} for {key}, which it lacks",
                            name(set)
                        );
                        (i["path"].as_str().expect("path").to_owned(), key)
                    })
                    .collect();
                volumes.insert(
                    v["name"].as_str().expect("name"),
                    (source.to_owned(), items),
                );
            }
            let claims: BTreeSet<&str> = list(&set["spec"]["volumeClaimTemplates"])
                .iter()
                .map(name)
                .collect();
            let scratch: BTreeSet<&str> = list(&pod["volumes"])
                .iter()
                .filter(|v| v.get("emptyDir").is_some())
                .map(|v| v["name"].as_str().expect("name"))
                .collect();
            for c in list(&pod["containers"]) {
                for mount in list(&c["volumeMounts"]) {
                    let vol = mount["name"].as_str().expect("name");
                    if claims.contains(vol) || scratch.contains(vol) {
                        continue;
                    }
                    let (source, items) = volumes.get(vol).unwrap_or_else(|| {
                        panic!("{preset}: {} mounts {vol}, which the pod lacks", name(set))
                    });
                    let sub = mount["subPath"]
                        .as_str()
                        .expect("a file mount has a subPath");
                    let key = items.get(sub).unwrap_or_else(|| {
                        panic!(
                            "{preset}: {} mounts {vol}/{sub}, which is no item",
                            name(set)
                        )
                    });
                    keys.insert((source.clone(), key.clone()), true);
                }
            }
        }
        let unmounted: Vec<_> = keys.iter().filter(|(_, m)| !**m).map(|(k, _)| k).collect();
        assert!(
            unmounted.is_empty(),
            "{preset}: never mounted: {unmounted:?}"
        );
    }
}

#[test]
fn every_service_port_is_served_by_the_pods_it_selects() {
    for (preset, tmp) in exportable() {
        let m = Manifests::read(&dir(&tmp));
        for svc in m.of_kind("Service") {
            let selector = &svc["spec"]["selector"];
            let selected: Vec<&Value> = pods(&m)
                .filter(|s| {
                    let labels = &s["spec"]["template"]["metadata"]["labels"];
                    selector
                        .as_object()
                        .is_some_and(|sel| sel.iter().all(|(k, v)| labels[k] == *v))
                })
                .collect();
            assert_eq!(
                selected.len(),
                1,
                "{preset}: {} selects {} pods",
                name(svc),
                selected.len()
            );
            let served: BTreeSet<u64> =
                list(&selected[0]["spec"]["template"]["spec"]["containers"])
                    .iter()
                    .flat_map(|c| list(&c["ports"]))
                    .filter_map(|p| p["containerPort"].as_u64())
                    .collect();
            for p in list(&svc["spec"]["ports"]) {
                let target = p["targetPort"].as_u64().expect("a numeric targetPort");
                assert!(
                    served.contains(&target),
                    "{preset}: {} sends to {target}, which no container serves ({served:?})",
                    name(svc)
                );
            }
            if svc["spec"]["clusterIP"] == "None" {
                assert_eq!(
                    name(svc),
                    name(selected[0]),
                    "a host's headless Service is its name"
                );
            }
        }
        // A StatefulSet's serviceName is its headless Service.
        for set in pods(&m) {
            let service = set["spec"]["serviceName"].as_str().expect("serviceName");
            assert_eq!(
                m.get("Service", service).map(|s| &s["spec"]["clusterIP"]),
                Some(&Value::from("None"))
            );
        }
    }
}

#[test]
fn the_entry_service_type_and_cluster_domain_are_the_users_to_choose() {
    let t = topology("reference");
    let options = KubeOptions {
        service_type: ServiceType::LoadBalancer,
        cluster_domain: "lab.example".to_owned(),
    };
    let files = bundle(&t, &options).expect("exports");
    let lb = files.get("lb-01.yaml").expect("lb-01.yaml");
    assert!(lb.contains("type: LoadBalancer"), "{lb}");
    assert!(
        lb.contains("web-01.topolab-reference.svc.lab.example:80"),
        "{lb}"
    );
    let bad = KubeOptions {
        cluster_domain: "lab..example".to_owned(),
        ..KubeOptions::default()
    };
    let e = bundle(&t, &bad).expect_err("refused");
    assert!(e.to_string().contains("lab..example"), "{e}");
}

#[test]
fn passwords_are_only_in_the_secret_file_readable_by_its_owner() {
    let t = topology("secured-monitored");
    let mut settings = Settings::for_topology(&t);
    settings.flavor = Flavor::Mariadb;
    let secrets = Secrets::generate(&t.domain).expect("secrets");
    let files = kube::generate(&t, &settings, &secrets, &KubeOptions::default()).expect("exports");
    for (path, text) in files.iter() {
        if path == kube::SECRET_FILE {
            continue;
        }
        for (secret, value) in secrets.all() {
            assert!(!text.contains(value), "{path} holds {}", secret.name());
        }
    }
    let tmp = write(&files);
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(dir(&tmp).join(kube::SECRET_FILE)).expect("written");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
}

/// `kubernetes-validate` (PyPI, installed by .ci/run): the schemas of a
/// recent Kubernetes, offline, strict (no field it does not know).
#[test]
fn the_kubernetes_schemas_accept_every_manifest() {
    // The module works where pip put no program on PATH (a pyenv without
    // its shim made yet).
    let module = std::process::Command::new("python3")
        .args(["-c", "import kubernetes_validate"])
        .output()
        .is_ok_and(|o| o.status.success());
    let command = if module {
        vec![
            "python3".to_owned(),
            "-m".to_owned(),
            "kubernetes_validate".to_owned(),
        ]
    } else {
        let Some(program) = support::tool("kubernetes-validate") else {
            return;
        };
        vec![program.display().to_string()]
    };
    let check = |root: &Path| {
        let mut files: Vec<String> = Vec::new();
        for r in list(&support::kube::read_docs(&root.join("kustomization.yaml"))[0]["resources"]) {
            files.push(root.join(r.as_str().expect("file")).display().to_string());
        }
        support::run(
            std::process::Command::new(&command[0])
                .args(&command[1..])
                .args(["--strict", "--quiet"])
                .args(&files),
        )
    };
    for (preset, tmp) in exportable() {
        let (ok, out, err) = check(&dir(&tmp));
        assert!(ok, "{preset}: the schemas refuse the bundle:\n{out}\n{err}");
    }
    // The validator does refuse: a StatefulSet whose replicas is a word.
    let t = topology("reference");
    let tmp = write(&bundle(&t, &KubeOptions::default()).expect("exports"));
    let web = dir(&tmp).join("web-01.yaml");
    let text = std::fs::read_to_string(&web).expect("read");
    std::fs::write(&web, text.replace("replicas: 1", "replicas: one")).expect("write");
    let (ok, out, err) = check(&dir(&tmp));
    assert!(!ok, "a broken manifest passed:\n{out}\n{err}");
}

#[test]
fn the_cli_refuses_what_kubernetes_cannot_run_and_writes_nothing() {
    let tmp = tempfile::tempdir().expect("tmp");
    let out_dir = tmp.path().join("k8s");
    let out = support::kube::export("two-regions", &out_dir, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("regions"), "{err}");
    assert!(
        !out_dir.exists(),
        "a refused bundle left {}",
        out_dir.display()
    );

    let out = support::kube::export("reference", &out_dir, &["--service-type", "cluster-ip"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let readme = std::fs::read_to_string(out_dir.join("README.md")).expect("README");
    assert!(
        readme.contains("port-forward service/lb-01-entry"),
        "{readme}"
    );
    let lb = std::fs::read_to_string(out_dir.join("lb-01.yaml")).expect("lb-01.yaml");
    assert!(lb.contains("type: ClusterIP"), "{lb}");
}

#[test]
fn a_host_named_like_one_of_the_bundles_own_objects_is_refused() {
    let mut t = topology("reference");
    topolab::model::rename_host(&mut t, &"web-02".into(), "lb-01-entry").expect("renamed");
    let e = bundle(&t, &KubeOptions::default()).expect_err("refused");
    assert!(
        e.to_string()
            .contains("lb-01-entry: the bundle names one of its own objects so"),
        "{e}"
    );
}

#[test]
fn long_names_are_refused_only_where_kubernetes_refuses_them() {
    // A long design name and a long host name, each within its limit.
    let mut t = topology("reference");
    t.name = "a-design-with-a-rather-long-name-for-a-class".to_owned();
    topolab::model::rename_host(&mut t, &"web-02".into(), "web-server-with-a-long-name-02")
        .expect("renamed");
    assert!(
        kube::unsupported(&t).is_empty(),
        "{:?}",
        kube::unsupported(&t)
    );
    // A namespace longer than a DNS label.
    t.name = "d".repeat(60);
    let why = kube::unsupported(&t);
    assert!(why.iter().any(|w| w.contains("namespace")), "{why:?}");
}
