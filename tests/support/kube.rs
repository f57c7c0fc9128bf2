//! Kubernetes bundles read back: the manifests as JSON values, and a
//! runner that starts each pod on plain Docker the way the lab starts a
//! host (a holder owning the pod's network, its containers joining it),
//! with ConfigMaps and Secrets written out as files, Services as network
//! aliases of the pods they select, and no fixed addresses.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_json::Value;

use super::Bounded;

/// Every object of a bundle, in the order `kustomization.yaml` lists
/// their files.
pub struct Manifests {
    /// The objects.
    pub objects: Vec<Value>,
}

impl Manifests {
    /// Reads the bundle in `dir` through its `kustomization.yaml`.
    pub fn read(dir: &Path) -> Self {
        let kustomization = read_docs(&dir.join("kustomization.yaml"));
        assert_eq!(kustomization.len(), 1);
        let mut objects = Vec::new();
        for file in kustomization[0]["resources"].as_array().expect("resources") {
            let file = file.as_str().expect("a file name");
            objects.extend(read_docs(&dir.join(file)));
        }
        Self { objects }
    }

    /// The objects of `kind`.
    pub fn of_kind<'a>(&'a self, kind: &str) -> impl Iterator<Item = &'a Value> + use<'a> {
        let kind = kind.to_owned();
        self.objects
            .iter()
            .filter(move |o| o["kind"] == kind.as_str())
    }

    /// The object of `kind` named `name`.
    pub fn get(&self, kind: &str, name: &str) -> Option<&Value> {
        self.of_kind(kind).find(|o| o["metadata"]["name"] == name)
    }

    /// The Services that select a pod with `labels`.
    pub fn services_of<'a>(&'a self, labels: &'a Value) -> impl Iterator<Item = &'a Value> {
        self.of_kind("Service").filter(move |s| {
            s["spec"]["selector"]
                .as_object()
                .is_some_and(|sel| sel.iter().all(|(k, v)| labels[k] == *v))
        })
    }
}

/// `topolab export DESIGN DIR --target kubernetes EXTRA...`.
pub fn export(design: &str, dir: &Path, extra: &[&str]) -> std::process::Output {
    super::topolab()
        .args(["export", design, "--target", "kubernetes"])
        .args(extra)
        .arg(dir)
        .bounded()
        .expect("topolab runs")
}

/// Every YAML document of `path`, as JSON.
pub fn read_docs(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| {
            let v = serde_yaml::Value::deserialize(doc)
                .unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()));
            serde_json::to_value(v).expect("YAML as JSON")
        })
        .filter(|v| !v.is_null())
        .collect()
}

fn docker(args: &[String]) -> String {
    let out = Command::new("docker")
        .args(args)
        .bounded()
        .expect("docker runs");
    assert!(
        out.status.success(),
        "docker {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn words(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// A bundle's pods on one Docker network, removed on drop.
pub struct PodsOnDocker {
    /// The `topolab.lab` label of everything it creates.
    pub lab: String,
    manifests: Manifests,
    namespace: String,
    cluster_domain: String,
    network: String,
    files: tempfile::TempDir,
    /// Each entry Service's first port, published on 127.0.0.1: Service
    /// name -> host port.
    pub entry_ports: BTreeMap<String, u16>,
}

impl PodsOnDocker {
    /// Creates the network (no fixed subnet: Docker chooses the addresses)
    /// for the bundle in `dir`.
    pub fn new(dir: &Path, lab: &str, cluster_domain: &str) -> Self {
        let manifests = Manifests::read(dir);
        let namespace = manifests
            .of_kind("Namespace")
            .next()
            .and_then(|n| n["metadata"]["name"].as_str())
            .expect("a namespace")
            .to_owned();
        let network = format!("topolab-{lab}-pods");
        docker(&words(&[
            "network",
            "create",
            "--label",
            &format!("topolab.lab={lab}"),
            &network,
        ]));
        Self {
            lab: lab.to_owned(),
            manifests,
            namespace,
            cluster_domain: cluster_domain.to_owned(),
            network,
            files: tempfile::tempdir().expect("a folder for the pods' files"),
            entry_ports: BTreeMap::new(),
        }
    }

    fn holder_name(&self, set: &str) -> String {
        format!("topolab-{}-{set}-0", self.lab)
    }

    /// The names of the containers of StatefulSet `set`'s pod, holder first.
    pub fn containers_of(&self, set: &str) -> Vec<String> {
        let s = self
            .manifests
            .get("StatefulSet", set)
            .unwrap_or_else(|| panic!("no StatefulSet {set}"));
        let mut out = vec![self.holder_name(set)];
        for c in s["spec"]["template"]["spec"]["containers"]
            .as_array()
            .expect("containers")
        {
            out.push(format!(
                "{}-{}",
                self.holder_name(set),
                c["name"].as_str().expect("name")
            ));
        }
        out
    }

    /// Starts every StatefulSet's pod.
    pub fn start_all(&mut self) {
        let sets: Vec<String> = self
            .manifests
            .of_kind("StatefulSet")
            .map(|s| s["metadata"]["name"].as_str().expect("name").to_owned())
            .collect();
        for s in sets {
            self.start(&s);
        }
    }

    /// The pod's address on the network.
    pub fn address(&self, set: &str) -> String {
        docker(&words(&[
            "inspect",
            "-f",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
            &self.holder_name(set),
        ]))
    }

    /// Removes the pod's containers (its volumes stay, as a StatefulSet's
    /// claims do).
    pub fn kill(&self, set: &str) {
        let mut args = words(&["rm", "-f", "-v"]);
        args.extend(self.containers_of(set).into_iter().rev());
        docker(&args);
    }

    /// Starts StatefulSet `set`'s pod: its holder with the Services that
    /// select it as aliases, then each container joined to it.
    pub fn start(&mut self, set: &str) {
        let s = self
            .manifests
            .get("StatefulSet", set)
            .unwrap_or_else(|| panic!("no StatefulSet {set}"))
            .clone();
        let template = &s["spec"]["template"];
        let pod = &template["spec"];
        let labels = &template["metadata"]["labels"];
        let holder = self.holder_name(set);
        let label = format!("topolab.lab={}", self.lab);

        // Volumes: ConfigMap and Secret items as files of their modes,
        // emptyDir and claims as Docker volumes.
        let mut volumes: BTreeMap<String, PathBuf> = BTreeMap::new();
        let mut docker_volumes: BTreeMap<String, String> = BTreeMap::new();
        for v in pod["volumes"].as_array().into_iter().flatten() {
            let name = v["name"].as_str().expect("volume name").to_owned();
            let source: Option<(BTreeMap<String, String>, &Value)> =
                if let Some(cm) = v.get("configMap") {
                    let map = self
                        .manifests
                        .get("ConfigMap", cm["name"].as_str().expect("configMap name"))
                        .unwrap_or_else(|| panic!("no ConfigMap {}", cm["name"]));
                    Some((string_map(&map["data"]), cm))
                } else if let Some(sec) = v.get("secret") {
                    let secret = self
                        .manifests
                        .get("Secret", sec["secretName"].as_str().expect("secretName"))
                        .unwrap_or_else(|| panic!("no Secret {}", sec["secretName"]));
                    Some((string_map(&secret["stringData"]), sec))
                } else {
                    None
                };
            match source {
                Some((data, spec)) => {
                    let dir = self.files.path().join(set).join(&name);
                    std::fs::create_dir_all(&dir).expect("mkdir");
                    for item in spec["items"].as_array().expect("items") {
                        let key = item["key"].as_str().expect("key");
                        let path = dir.join(item["path"].as_str().expect("path"));
                        let text = data
                            .get(key)
                            .unwrap_or_else(|| panic!("{name} has no key {key}"));
                        std::fs::write(&path, text).expect("write");
                        let mode = item["mode"].as_u64().unwrap_or(0o644) as u32;
                        use std::os::unix::fs::PermissionsExt;
                        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                            .expect("chmod");
                    }
                    volumes.insert(name, dir);
                }
                None => {
                    docker_volumes.insert(name.clone(), self.docker_volume(set, &name));
                }
            }
        }
        for claim in s["spec"]["volumeClaimTemplates"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let name = claim["metadata"]["name"].as_str().expect("claim name");
            docker_volumes.insert(name.to_owned(), self.docker_volume(set, name));
        }

        // The holder: the pod's network, its Services' names.
        let mut args = words(&[
            "run",
            "-d",
            "--init",
            "--name",
            &holder,
            "--label",
            &label,
            "--network",
            &self.network,
            "--hostname",
        ]);
        args.push(format!("{set}-0"));
        for svc in self.manifests.services_of(labels) {
            let name = svc["metadata"]["name"].as_str().expect("service name");
            args.push("--network-alias".to_owned());
            args.push(name.to_owned());
            args.push("--network-alias".to_owned());
            args.push(format!(
                "{name}.{}.svc.{}",
                self.namespace, self.cluster_domain
            ));
            if svc["spec"]["type"] == "NodePort" || svc["spec"]["type"] == "LoadBalancer" {
                let port = svc["spec"]["ports"][0]["targetPort"]
                    .as_u64()
                    .expect("targetPort");
                args.push("-p".to_owned());
                args.push(format!("127.0.0.1::{port}"));
            }
        }
        let holder_image = pod["containers"][0]["image"].as_str().expect("image");
        args.extend(words(&[holder_image, "sleep", "infinity"]));
        docker(&args);
        for svc in self.manifests.services_of(labels) {
            if svc["spec"]["type"] == "NodePort" || svc["spec"]["type"] == "LoadBalancer" {
                let port = svc["spec"]["ports"][0]["targetPort"]
                    .as_u64()
                    .expect("port");
                let out = docker(&words(&["port", &holder, &format!("{port}/tcp")]));
                let published = out
                    .lines()
                    .next()
                    .and_then(|l| l.rsplit(':').next())
                    .and_then(|p| p.parse().ok())
                    .expect("a published port");
                self.entry_ports.insert(
                    svc["metadata"]["name"].as_str().expect("name").to_owned(),
                    published,
                );
            }
        }

        // The containers, joined to the holder's network and processes.
        for c in pod["containers"].as_array().expect("containers") {
            let name = format!("{holder}-{}", c["name"].as_str().expect("name"));
            let mut args = words(&["run", "-d", "--name", &name, "--label", &label, "--network"]);
            args.push(format!("container:{holder}"));
            if pod["shareProcessNamespace"] == true {
                args.push("--pid".to_owned());
                args.push(format!("container:{holder}"));
            }
            if let Some(mem) = c["resources"]["limits"]["memory"].as_str() {
                args.push("--memory".to_owned());
                args.push(mem.replace("Mi", "m"));
            }
            if let Some(cpu) = c["resources"]["limits"]["cpu"].as_str() {
                args.push("--cpus".to_owned());
                args.push(cpu.to_owned());
            }
            for cap in c["securityContext"]["capabilities"]["add"]
                .as_array()
                .into_iter()
                .flatten()
            {
                args.push("--cap-add".to_owned());
                args.push(cap.as_str().expect("capability").to_owned());
            }
            for m in c["volumeMounts"].as_array().into_iter().flatten() {
                let vol = m["name"].as_str().expect("mount name");
                let at = m["mountPath"].as_str().expect("mountPath");
                let ro = if m["readOnly"] == true { ":ro" } else { "" };
                let source = match (volumes.get(vol), docker_volumes.get(vol)) {
                    (Some(dir), _) => match m["subPath"].as_str() {
                        Some(sub) => dir.join(sub).display().to_string(),
                        None => dir.display().to_string(),
                    },
                    (None, Some(v)) => v.clone(),
                    (None, None) => panic!("{name} mounts {vol}, which the pod does not have"),
                };
                args.push("-v".to_owned());
                args.push(format!("{source}:{at}{ro}"));
            }
            let command: Vec<String> = c["command"]
                .as_array()
                .expect("command")
                .iter()
                .map(|w| w.as_str().expect("word").to_owned())
                .collect();
            args.push("--entrypoint".to_owned());
            args.push(command[0].clone());
            args.push(c["image"].as_str().expect("image").to_owned());
            args.extend(command[1..].iter().cloned());
            docker(&args);
        }
    }

    /// Runs each container's readiness probe (an `exec` command) in it:
    /// the containers whose probe failed, with its output.
    pub fn unready(&self, set: &str) -> Vec<String> {
        let s = self
            .manifests
            .get("StatefulSet", set)
            .unwrap_or_else(|| panic!("no StatefulSet {set}"));
        let mut out = Vec::new();
        for c in list(&s["spec"]["template"]["spec"]["containers"]) {
            let probe = &c["readinessProbe"];
            if probe.is_null() {
                continue;
            }
            let name = format!(
                "{}-{}",
                self.holder_name(set),
                c["name"].as_str().expect("name")
            );
            // An exec probe runs in the container; the kubelet's HTTP and
            // TCP probes go to the pod's address, asked here from its
            // holder (which has curl and bash).
            let pod_ip = self.address(set);
            let (container, command): (String, Vec<String>) = if probe.get("exec").is_some() {
                let words = list(&probe["exec"]["command"])
                    .iter()
                    .map(|w| w.as_str().expect("word").to_owned())
                    .collect();
                (name.clone(), words)
            } else if let Some(get) = probe.get("httpGet") {
                let url = format!(
                    "http://{pod_ip}:{}{}",
                    get["port"],
                    get["path"].as_str().expect("path")
                );
                (
                    self.holder_name(set),
                    words(&["curl", "-fsS", "-m", "2", "-o", "/dev/null", &url]),
                )
            } else if let Some(tcp) = probe.get("tcpSocket") {
                let script = format!("exec 3<>/dev/tcp/{pod_ip}/{}", tcp["port"]);
                (self.holder_name(set), words(&["bash", "-c", &script]))
            } else {
                panic!("{name}: a probe of a kind the runner does not know: {probe}");
            };
            let run = Command::new("docker")
                .arg("exec")
                .arg(&container)
                .args(&command)
                .bounded()
                .expect("docker");
            if !run.status.success() {
                out.push(format!(
                    "{name}: {} {}",
                    String::from_utf8_lossy(&run.stdout),
                    String::from_utf8_lossy(&run.stderr)
                ));
            }
        }
        out
    }

    fn docker_volume(&self, set: &str, name: &str) -> String {
        let volume = format!("topolab-{}-{set}-{name}", self.lab);
        docker(&words(&[
            "volume",
            "create",
            "--label",
            &format!("topolab.lab={}", self.lab),
            &volume,
        ]));
        volume
    }

    /// A container's recent log.
    pub fn logs(&self, container: &str) -> String {
        let out = Command::new("docker")
            .args(["logs", "--tail", "30", container])
            .bounded()
            .expect("docker");
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }
}

impl Drop for PodsOnDocker {
    fn drop(&mut self) {
        let filter = format!("label=topolab.lab={}", self.lab);
        let ids = |args: &[&str]| {
            let out = Command::new("docker")
                .args(args)
                .args(["--filter", &filter, "-q"])
                .bounded();
            out.map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
        };
        let containers = ids(&["ps", "-a"]);
        if !containers.is_empty() {
            let _ = Command::new("docker")
                .args(["rm", "-f", "-v"])
                .args(&containers)
                .bounded();
        }
        let _ = Command::new("docker")
            .args(["network", "rm", &self.network])
            .bounded();
        let volumes = ids(&["volume", "ls"]);
        if !volumes.is_empty() {
            let _ = Command::new("docker")
                .args(["volume", "rm", "-f"])
                .args(&volumes)
                .bounded();
        }
    }
}

fn string_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn list(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}
