//! The design as Kubernetes manifests: one namespace per design, a pod per
//! host.
//!
//! A topolab host is what Kubernetes calls a pod: one network namespace
//! whose programs reach each other on 127.0.0.1. So each host becomes a
//! StatefulSet of one replica (a stable name, and a volume of its own for
//! its database) whose pod runs the host's containers from the same
//! recipes as the lab and the compose bundle. Each host has a headless
//! Service of its name, so its peers find it by DNS; entry points have a
//! Service of the type the user chooses. The generated files go into
//! ConfigMaps mounted at the paths the lab uses, the passwords into one
//! Secret whose keys are mounted as files.
//!
//! Kubernetes gives pods no fixed addresses, so the configs name hosts
//! instead (`web-01.<namespace>.svc.<cluster domain>`): HAProxy resolves its
//! servers through the cluster's DNS and follows a pod that comes back at
//! a new address, the app and replication connect by name. What a design
//! asks that cannot be said here (fixed addresses for a virtual IP,
//! regions joined by a router, DNS servers of its own) is refused with the
//! reason, never dropped.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::recipe::{self, FileMount, Readiness, Recipe, VolumeKind};
use super::{Artifacts, Ctx, GenerateError, Secret, Secrets, Settings, emit, yaml};
use crate::model::{
    AddressPlan, ComponentKind, EXPORTER_PORT, Flavor, Host, HostName, Topology, cpus_text,
    published_ports, serving_network, validate,
};

/// How an entry point is reached from outside the cluster.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ServiceType {
    /// A port on every node (30000-32767, chosen by the cluster).
    #[default]
    NodePort,
    /// A cloud load balancer (or MetalLB, or k3s's ServiceLB).
    LoadBalancer,
    /// Inside the cluster only (`kubectl port-forward` reaches it).
    ClusterIp,
}

impl ServiceType {
    /// Its name in a manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NodePort => "NodePort",
            Self::LoadBalancer => "LoadBalancer",
            Self::ClusterIp => "ClusterIP",
        }
    }
}

/// How to export, beyond the design.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubeOptions {
    /// The type of the entry points' Services.
    pub service_type: ServiceType,
    /// The cluster's DNS domain (`cluster.local` unless the cluster was
    /// set up otherwise).
    pub cluster_domain: String,
}

impl Default for KubeOptions {
    fn default() -> Self {
        Self {
            service_type: ServiceType::NodePort,
            cluster_domain: "cluster.local".to_owned(),
        }
    }
}

/// The namespace of `topology`'s manifests.
pub fn namespace(topology: &Topology) -> String {
    format!("topolab-{}", topology.name)
}

/// The label every object of the bundle carries with its host's name; the
/// Services and NetworkPolicies select pods by it.
pub const HOST_LABEL: &str = "topolab.host";

/// The Secret holding the design's passwords and key.
pub const SECRET_NAME: &str = "lab-secrets";

/// The file of the Secret in the bundle (readable by its owner only).
pub const SECRET_FILE: &str = "secrets/lab-secrets.yaml";

/// Why a design cannot be exported to Kubernetes as it is: every reason,
/// each naming what to change.
pub fn unsupported(topology: &Topology) -> Vec<String> {
    let mut out = Vec::new();
    for vip in topology.vips() {
        out.push(format!(
            "virtual IP .{} ({}): a virtual IP is a fixed address moved by VRRP, and pods have \
             neither; remove `vip` from its load balancers (a Service of type LoadBalancer \
             plays its part in a cluster)",
            vip.number,
            vip.members
                .iter()
                .map(HostName::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if crate::model::spans_regions(topology) {
        out.push(
            "regions: the lab joins each region's networks through a router of its own; a \
             cluster places pods on nodes instead (topology labels), which the bundle does not \
             choose; put every host in one region"
                .to_owned(),
        );
    }
    for (host, _) in topology.dns_servers() {
        out.push(format!(
            "{}: a DNS server of the design's own; in a cluster its DNS answers for Services, \
             so remove the host (and the entry points' records with it)",
            host.name
        ));
    }
    let entries: Vec<String> = published_ports(topology)
        .iter()
        .map(|p| format!("{}-entry", p.host))
        .collect();
    for host in &topology.hosts {
        let h = host.name.as_str();
        if !h.starts_with(|c: char| c.is_ascii_lowercase()) {
            out.push(format!(
                "{h}: a Service's name starts with a letter; rename the host"
            ));
        }
        if h.len() > 52 {
            out.push(format!(
                "{h}: a StatefulSet's name has at most 52 characters; shorten the host's name"
            ));
        }
        if entries.iter().any(|e| e == h) || h == "releases" {
            out.push(format!(
                "{h}: the bundle names one of its own objects so; rename the host"
            ));
        }
    }
    let ns = namespace(topology);
    if ns.len() > 63 {
        out.push(format!(
            "the namespace \"{ns}\" is longer than a DNS label may be (63); shorten the \
             design's name"
        ));
    }
    out
}

/// Every file of the Kubernetes bundle: `kustomization.yaml`, the
/// namespace, one file per host (ConfigMap, headless Service, StatefulSet
/// and, for an entry point, its Service), the shared ConfigMaps, the
/// NetworkPolicies of a segmented design, the Secret (`secrets/`), and a
/// README.md.
pub fn generate(
    topology: &Topology,
    settings: &Settings,
    secrets: &Secrets,
    options: &KubeOptions,
) -> Result<Artifacts, KubeError> {
    let problems = validate(topology);
    if !problems.is_empty() {
        return Err(KubeError::Invalid(GenerateError::Invalid(problems)));
    }
    let domain_ok = options.cluster_domain.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    });
    if !domain_ok {
        return Err(KubeError::ClusterDomain(options.cluster_domain.clone()));
    }
    let refused = unsupported(topology);
    if !refused.is_empty() {
        return Err(KubeError::Unsupported(refused));
    }
    let ns = namespace(topology);
    let ctx = Ctx {
        topology,
        settings,
        plan: AddressPlan::numbered(topology, settings.first_subnet, &settings.numbers),
        names: Some(format!("{ns}.svc.{}", options.cluster_domain)),
    };
    // The same files as the lab's, generated by name instead of address.
    let configs = super::config_files(&ctx, secrets);

    let mut out = Artifacts::default();
    let mut resources = vec!["namespace.yaml".to_owned()];
    out.add(
        "namespace.yaml",
        yaml::documents(&[json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": { "name": ns, "labels": labels(topology, None) },
        })]),
    );
    let shared = shared_config_maps(&ctx, &configs);
    if !shared.is_empty() {
        out.add("config.yaml", yaml::documents(&shared));
        resources.push("config.yaml".to_owned());
    }
    for host in &topology.hosts {
        let file = format!("{}.yaml", host.name);
        out.add(
            &file,
            yaml::documents(&host_objects(&ctx, &configs, host, options)),
        );
        resources.push(file);
    }
    if topology.monitoring.enabled {
        out.add(
            "monitoring.yaml",
            yaml::documents(&monitoring_objects(&ctx, &configs)),
        );
        resources.push("monitoring.yaml".to_owned());
    }
    if topology.security.segmentation {
        out.add(
            "network-policies.yaml",
            yaml::documents(&network_policies(&ctx)),
        );
        resources.push("network-policies.yaml".to_owned());
    }
    out.add(
        SECRET_FILE,
        yaml::documents(&[secret_object(&ctx, secrets)]),
    );
    resources.push(SECRET_FILE.to_owned());
    out.add(
        "kustomization.yaml",
        yaml::document(&json!({
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": resources,
        })),
    );
    out.add("README.md", readme(&ctx, options));
    Ok(out)
}

/// Why a Kubernetes bundle could not be made.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// The design is not valid.
    #[error(transparent)]
    Invalid(GenerateError),
    /// The cluster domain is not a DNS name.
    #[error(
        "--cluster-domain \"{0}\" is not a DNS name (labels of letters, digits and '-', joined by '.')"
    )]
    ClusterDomain(String),
    /// The design asks for what the bundle cannot express.
    #[error("the design cannot run on Kubernetes as it is:\n  - {}", .0.join("\n  - "))]
    Unsupported(Vec<String>),
}

/// Where a generated file lives in the bundle: its ConfigMap (`web-01`'s
/// files in `web-01-files`, the releases' in `releases-files`) and its key
/// there (its path below that folder, `/` written `.`: `tls.lab.pem`).
pub fn config_map_key(artifact: &str) -> (String, String) {
    match artifact.split_once('/') {
        Some((folder, rest)) => (format!("{folder}-files"), rest.replace('/', ".")),
        None => ("files".to_owned(), artifact.to_owned()),
    }
}

fn labels(topology: &Topology, host: Option<&str>) -> Value {
    let mut l = json!({
        "app.kubernetes.io/managed-by": "topolab",
        "topolab.lab": topology.name,
    });
    if let Some(h) = host {
        l[HOST_LABEL] = json!(h);
    }
    l
}

fn meta(ctx: &Ctx, name: &str, host: Option<&str>) -> Value {
    json!({
        "name": name,
        "namespace": namespace(ctx.topology),
        "labels": labels(ctx.topology, host),
    })
}

/// A ConfigMap of `files` (bundle path -> text), all under one folder.
/// The ConfigMap `name`: every generated file [`config_map_key`] puts in
/// it.
fn config_map(ctx: &Ctx, configs: &Artifacts, name: &str, host: Option<&str>) -> Value {
    let data: serde_json::Map<String, Value> = configs
        .iter()
        .map(|(path, text)| (config_map_key(path), text))
        .filter(|((map, _), _)| map == name)
        .map(|((_, key), text)| (key, json!(text)))
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta(ctx, name, host),
        "data": data,
    })
}

/// The ConfigMaps that no single host owns: the releases' files.
fn shared_config_maps(ctx: &Ctx, configs: &Artifacts) -> Vec<Value> {
    let (releases, _) = config_map_key("releases/");
    if configs
        .iter()
        .any(|(path, _)| config_map_key(path).0 == releases)
    {
        vec![config_map(ctx, configs, &releases, None)]
    } else {
        Vec::new()
    }
}

/// The exporter beside a database in a pod: it reaches the database on
/// the pod's loopback.
fn pod_recipes(ctx: &Ctx, host: &Host) -> Vec<Recipe> {
    recipe::of_host(ctx.topology, &ctx.plan, host)
        .into_iter()
        .map(|r| {
            if r.part == recipe::Part::Exporter {
                recipe::exporter_at(host, "127.0.0.1")
            } else {
                r
            }
        })
        .collect()
}

fn quantity_mib(mib: u64) -> String {
    format!("{mib}Mi")
}

/// A container of a pod, from its recipe.
fn container(ctx: &Ctx, host: &Host, r: &Recipe) -> Value {
    let images = &ctx.settings.images;
    let mut mounts = Vec::new();
    // The volume first: the release files are mounted inside it.
    if let Some(v) = r.volume {
        let mut mount = json!({ "name": volume_name(v.kind), "mountPath": v.path });
        if v.kind == VolumeKind::Data {
            // A fresh volume may hold `lost+found`, and MySQL refuses to
            // initialize a data directory that is not empty.
            mount["subPath"] = json!("data");
        }
        mounts.push(mount);
    }
    for f in &r.files {
        let (map, key) = config_map_key(&f.artifact);
        mounts.push(json!({
            "name": map,
            "mountPath": f.path,
            "subPath": key,
            "readOnly": true,
        }));
    }
    for s in &r.secrets {
        mounts.push(json!({
            "name": "secrets",
            "mountPath": s.path(),
            "subPath": s.name(),
            "readOnly": true,
        }));
    }
    let mut c = json!({
        "name": r.part.label(),
        "image": images.get(r.image),
        "imagePullPolicy": "IfNotPresent",
        "command": r.command,
        "resources": {
            // What it needs at rest, never more than its limit.
            "requests": { "memory": quantity_mib(r.memory_mib.min(u64::from(host.size.memory_mib))) },
            "limits": {
                "cpu": cpus_text(host.size.cpus),
                "memory": quantity_mib(u64::from(host.size.memory_mib)),
            },
        },
    });
    let ports = container_ports(ctx, host, r);
    if !ports.is_empty() {
        c["ports"] = json!(
            ports
                .iter()
                .map(|(name, port)| json!({ "name": name, "containerPort": port }))
                .collect::<Vec<_>>()
        );
    }
    if !r.capabilities.is_empty() {
        c["securityContext"] = json!({ "capabilities": { "add": r.capabilities } });
    }
    if !mounts.is_empty() {
        c["volumeMounts"] = json!(mounts);
    }
    let probe = match (&r.ready, r.part) {
        // A load balancer is ready once it listens: its `/` goes on to the
        // apps and the databases, and a database outage must not take the
        // entry point out of its Service.
        (Readiness::Http { port, .. }, recipe::Part::Component(ComponentKind::Lb)) => {
            Some(json!({ "tcpSocket": { "port": port } }))
        }
        // The app listens on the pod's loopback only, out of the kubelet's
        // reach: asked from inside, with the curl its image has.
        (Readiness::Http { port, path }, recipe::Part::Component(ComponentKind::App)) => {
            Some(json!({ "exec": { "command": [
                "curl",
                "-fsS",
                "-o",
                "/dev/null",
                format!("http://127.0.0.1:{port}{path}"),
            ] } }))
        }
        // The others listen on the pod's address: the kubelet asks there,
        // which needs no program in their images.
        (Readiness::Http { port, path }, _) => {
            Some(json!({ "httpGet": { "path": path, "port": port } }))
        }
        (Readiness::Sql, _) => {
            let admin = match ctx.settings.flavor {
                Flavor::Mariadb => "mariadb-admin",
                Flavor::Mysql => "mysqladmin",
            };
            Some(json!({ "exec": { "command": [
                admin,
                format!("--socket={}", super::paths::DB_SOCKET),
                "ping",
            ] } }))
        }
        (Readiness::Dns | Readiness::Started, _) => None,
    };
    if let Some(mut probe) = probe {
        probe["periodSeconds"] = json!(2);
        probe["timeoutSeconds"] = json!(2);
        c["readinessProbe"] = probe;
    }
    c
}

/// The ports a container serves to the pod's peers, named.
fn container_ports(ctx: &Ctx, host: &Host, r: &Recipe) -> Vec<(String, u16)> {
    let mut out = Vec::new();
    match r.part {
        recipe::Part::Component(ComponentKind::Lb) => {
            if let Some(lb) = host.load_balancer() {
                out.push(("http".to_owned(), lb.port));
                if ctx.topology.security.tls {
                    out.push(("https".to_owned(), lb.tls_port));
                }
                if lb.stats || ctx.topology.monitoring.enabled {
                    out.push(("stats".to_owned(), lb.stats_port));
                }
            }
        }
        recipe::Part::Component(ComponentKind::Nginx) => {
            if let Some(p) = r.serves_on {
                out.push(("web".to_owned(), p));
            }
        }
        recipe::Part::Component(ComponentKind::Db) => {
            if let Some(p) = r.serves_on {
                out.push(("mysql".to_owned(), p));
            }
        }
        recipe::Part::Exporter => out.push(("exporter".to_owned(), EXPORTER_PORT)),
        recipe::Part::Monitoring => out.push(("prometheus".to_owned(), 9090)),
        // The app listens on the pod's loopback, for Nginx only.
        _ => {}
    }
    out
}

fn volume_name(kind: VolumeKind) -> &'static str {
    match kind {
        VolumeKind::Data => "db-data",
        VolumeKind::AppFiles => "app-files",
    }
}

/// The pod's volumes: each ConfigMap its containers read, with the keys
/// they mount and their modes, the Secret's keys they mount (root's only),
/// and the application files' scratch volume.
fn pod_volumes(recipes: &[Recipe]) -> Vec<Value> {
    let mut maps: BTreeMap<String, BTreeMap<String, u32>> = BTreeMap::new();
    let mut secrets: BTreeSet<Secret> = BTreeSet::new();
    let mut app_files = false;
    for r in recipes {
        for FileMount { artifact, mode, .. } in &r.files {
            let (map, key) = config_map_key(artifact);
            maps.entry(map).or_default().insert(key, *mode);
        }
        secrets.extend(r.secrets.iter().copied());
        app_files |= r.volume.is_some_and(|v| v.kind == VolumeKind::AppFiles);
    }
    let mut out: Vec<Value> = maps
        .into_iter()
        .map(|(name, keys)| {
            let items: Vec<Value> = keys
                .into_iter()
                .map(|(key, mode)| json!({ "key": key, "path": key, "mode": mode }))
                .collect();
            json!({ "name": name, "configMap": { "name": name, "items": items } })
        })
        .collect();
    if !secrets.is_empty() {
        let items: Vec<Value> = secrets
            .iter()
            .map(|s| json!({ "key": s.name(), "path": s.name(), "mode": 0o400 }))
            .collect();
        out.push(json!({ "name": "secrets", "secret": {
            "secretName": SECRET_NAME,
            "items": items,
        } }));
    }
    if app_files {
        out.push(json!({ "name": volume_name(VolumeKind::AppFiles), "emptyDir": {} }));
    }
    out
}

/// A StatefulSet of one pod running `recipes`, with its headless Service.
fn stateful_set(ctx: &Ctx, name: &str, host: &Host, recipes: &[Recipe]) -> [Value; 2] {
    let containers: Vec<Value> = recipes.iter().map(|r| container(ctx, host, r)).collect();
    let mut ports: Vec<(String, u16)> = recipes
        .iter()
        .flat_map(|r| container_ports(ctx, host, r))
        .collect();
    ports.sort();
    ports.dedup();
    let service = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(ctx, name, Some(name)),
        "spec": {
            "clusterIP": "None",
            // Peers find the host before it is ready: HAProxy checks its
            // servers itself, and a replica connects to a primary that is
            // still starting.
            "publishNotReadyAddresses": true,
            "selector": { HOST_LABEL: name },
            "ports": ports
                .iter()
                .map(|(n, p)| json!({ "name": n, "port": p, "targetPort": p }))
                .collect::<Vec<_>>(),
        },
    });
    let mut spec = json!({
        "serviceName": name,
        "replicas": 1,
        "selector": { "matchLabels": { HOST_LABEL: name } },
        "template": {
            "metadata": { "labels": labels(ctx.topology, Some(name)) },
            "spec": {
                "containers": containers,
                "volumes": pod_volumes(recipes),
                // The pod's pause process is the init of its containers
                // and reaps their orphans (compose's `init: true`).
                "shareProcessNamespace": true,
                "enableServiceLinks": false,
                "automountServiceAccountToken": false,
                "terminationGracePeriodSeconds": 10,
            },
        },
    });
    if recipes
        .iter()
        .any(|r| r.volume.is_some_and(|v| v.kind == VolumeKind::Data))
    {
        spec["volumeClaimTemplates"] = json!([{
            "metadata": {
                "name": volume_name(VolumeKind::Data),
                "labels": labels(ctx.topology, Some(name)),
            },
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": { "requests": { "storage": "1Gi" } },
            },
        }]);
    }
    let set = json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": meta(ctx, name, Some(name)),
        "spec": spec,
    });
    [service, set]
}

/// A host's objects: its ConfigMap, headless Service and StatefulSet, and
/// for an entry point the Service that reaches it from outside.
fn host_objects(ctx: &Ctx, configs: &Artifacts, host: &Host, options: &KubeOptions) -> Vec<Value> {
    let h = host.name.as_str();
    let mut out = Vec::new();
    if configs.of_host(&host.name).next().is_some() {
        out.push(config_map(ctx, configs, &format!("{h}-files"), Some(h)));
    }
    let recipes = pod_recipes(ctx, host);
    out.extend(stateful_set(ctx, h, host, &recipes));
    if let Some(entry) = published_ports(ctx.topology)
        .into_iter()
        .find(|p| p.host == host.name)
    {
        let mut ports = vec![
            json!({ "name": "http", "port": entry.http_target, "targetPort": entry.http_target }),
        ];
        if let Some(target) = entry.https_target {
            ports.push(json!({ "name": "https", "port": target, "targetPort": target }));
        }
        out.push(json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta(ctx, &format!("{h}-entry"), Some(h)),
            "spec": {
                "type": options.service_type.as_str(),
                "selector": { HOST_LABEL: h },
                "ports": ports,
            },
        }));
    }
    out
}

/// Prometheus, as a pod of its own named `monitoring`.
fn monitoring_objects(ctx: &Ctx, configs: &Artifacts) -> Vec<Value> {
    let mut out = vec![config_map(
        ctx,
        configs,
        "monitoring-files",
        Some("monitoring"),
    )];
    let host = Host::new(HostName::new("monitoring"));
    out.extend(stateful_set(
        ctx,
        "monitoring",
        &host,
        &[recipe::monitoring()],
    ));
    out
}

/// A segmented design's tiers as NetworkPolicies: nothing reaches a pod
/// but what its tier admits. A load balancer's ports are open to all (it
/// is the way in), a web server's to the pods of its tier, a database's
/// to the data tier's; Prometheus reaches what it scrapes.
fn network_policies(ctx: &Ctx) -> Vec<Value> {
    let t = ctx.topology;
    let mut out = vec![json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        // A dot: no host's policy can take this name.
        "metadata": meta(ctx, "deny.by-default", None),
        "spec": { "podSelector": {}, "policyTypes": ["Ingress"] },
    })];
    for host in &t.hosts {
        let h = host.name.as_str();
        let mut rules = Vec::new();
        for r in pod_recipes(ctx, host) {
            for (name, port) in container_ports(ctx, host, &r) {
                let from: Option<Vec<&str>> = match (r.part, name.as_str()) {
                    (recipe::Part::Component(ComponentKind::Lb), "stats") => {
                        Some(vec!["monitoring"])
                    }
                    (recipe::Part::Component(ComponentKind::Lb), _) => None,
                    (recipe::Part::Exporter, _) => Some(vec!["monitoring"]),
                    (recipe::Part::Component(kind), _) => {
                        // The host itself among them: its app reaches its own
                        // database by name, at the pod's own address, which
                        // a policy may not exempt.
                        let net = serving_network(t, kind);
                        let mut peers: Vec<&str> = t
                            .hosts
                            .iter()
                            .filter(|p| ctx.plan.address(&p.name, net).is_some())
                            .map(|p| p.name.as_str())
                            .collect();
                        if kind == ComponentKind::Db && t.monitoring.enabled {
                            peers.push("monitoring");
                        }
                        Some(peers)
                    }
                    _ => Some(Vec::new()),
                };
                let mut rule = json!({ "ports": [{ "protocol": "TCP", "port": port }] });
                if let Some(peers) = from {
                    if peers.is_empty() {
                        continue;
                    }
                    rule["from"] = json!([{ "podSelector": { "matchExpressions": [{
                        "key": HOST_LABEL,
                        "operator": "In",
                        "values": peers,
                    }] } }]);
                }
                rules.push(rule);
            }
        }
        if rules.is_empty() {
            continue;
        }
        out.push(json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": meta(ctx, h, Some(h)),
            "spec": {
                "podSelector": { "matchLabels": { HOST_LABEL: h } },
                "policyTypes": ["Ingress"],
                "ingress": rules,
            },
        }));
    }
    out
}

/// The Secret: every secret a container reads, by its file name.
fn secret_object(ctx: &Ctx, secrets: &Secrets) -> Value {
    let data: serde_json::Map<String, Value> = super::used_secrets(ctx.topology)
        .into_iter()
        .map(|s| (s.name().to_owned(), json!(secrets.get(s))))
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta(ctx, SECRET_NAME, None),
        "type": "Opaque",
        "stringData": data,
    })
}

fn readme(ctx: &Ctx, options: &KubeOptions) -> String {
    let t = ctx.topology;
    let ns = namespace(t);
    let images = &ctx.settings.images;
    let mut names: Vec<&str> = super::recipe::ImageRole::ALL
        .iter()
        .filter(|role| t.hosts.iter().any(|h| uses_image(ctx, h, **role)))
        .map(|role| images.get(*role))
        .collect();
    if t.monitoring.enabled {
        names.push(&images.monitoring);
    }
    names.sort_unstable();
    names.dedup();
    // topolab's own images are built here; the others (the official
    // profile's) come from their registries.
    let (names, pulled): (Vec<&str>, Vec<&str>) =
        names.into_iter().partition(|n| n.starts_with("topolab-"));
    let mut o = format!("# {} on Kubernetes — generated by topolab\n\n", t.name);
    if !t.description.is_empty() {
        emit!(o, "{}\n", t.description);
    }
    emit!(
        o,
        "These manifests run the design in the namespace `{ns}`: each host is a"
    );
    emit!(
        o,
        "StatefulSet of one pod whose containers share its network, as the lab's do."
    );
    emit!(o);
    emit!(o, "## Load the images\n");
    emit!(
        o,
        "topolab's images are built on your machine (`topolab images build`), not pulled"
    );
    emit!(
        o,
        "from a registry. Load them into the cluster's nodes first, for example:\n"
    );
    emit!(o, "```sh");
    emit!(
        o,
        "docker save {} | sudo k3s ctr images import -   # k3s",
        names.join(" ")
    );
    for n in &names {
        emit!(o, "kind load docker-image {n}   # kind");
    }
    emit!(o, "minikube image load {}   # minikube", names.join(" "));
    emit!(o, "```\n");
    if !pulled.is_empty() {
        emit!(
            o,
            "The others ({}) come from their registry: a cluster that reaches it pulls them.\n",
            pulled.join(", ")
        );
    }
    emit!(
        o,
        "Every container says `imagePullPolicy: IfNotPresent`, so a loaded image is used"
    );
    emit!(o, "as it is.\n");
    emit!(o, "## Run it\n");
    emit!(o, "```sh");
    emit!(o, "kubectl apply -k .");
    emit!(o, "kubectl -n {ns} get pods,services");
    for p in published_ports(t) {
        match options.service_type {
            ServiceType::ClusterIp => emit!(
                o,
                "kubectl -n {ns} port-forward service/{}-entry 8080:{} &   # then http://127.0.0.1:8080/",
                p.host,
                p.http_target
            ),
            ServiceType::NodePort => emit!(
                o,
                "kubectl -n {ns} get service {}-entry   # the node port of {}",
                p.host,
                p.host
            ),
            ServiceType::LoadBalancer => emit!(
                o,
                "kubectl -n {ns} get service {}-entry   # its external address",
                p.host
            ),
        }
    }
    emit!(
        o,
        "kubectl delete -k .   # everything: the namespace goes, and the databases' volumes with it"
    );
    emit!(o, "```\n");
    emit!(o, "## How it differs from the lab\n");
    emit!(
        o,
        "- **Names, not addresses.** Pods get no fixed addresses, so every config names"
    );
    emit!(
        o,
        "  its peers: `HOST.{ns}.svc.{}` (a headless Service per host).",
        options.cluster_domain
    );
    emit!(
        o,
        "  HAProxy asks the cluster's DNS every second (its `resolvers` section) and"
    );
    emit!(
        o,
        "  follows a pod that comes back at a new address. A cluster whose DNS domain is"
    );
    emit!(
        o,
        "  not `{}` needs `topolab export --target kubernetes --cluster-domain D`.",
        options.cluster_domain
    );
    if t.security.segmentation {
        emit!(
            o,
            "- **Segmentation is NetworkPolicies** (`network-policies.yaml`): every pod"
        );
        emit!(
            o,
            "  admits only its tier's peers. They take effect only where the cluster's"
        );
        emit!(
            o,
            "  network plugin enforces them (Calico and Cilium do, for example); elsewhere"
        );
        emit!(o, "  every pod reaches every other.");
        emit!(
            o,
            "  The databases listen on all of the pod's addresses; the policy, not"
        );
        emit!(o, "  `bind-address`, keeps the front tier out.");
    } else {
        emit!(
            o,
            "- **No segmentation**: the design has none, so there are no NetworkPolicies"
        );
        emit!(o, "  and every pod of the namespace reaches every other.");
    }
    emit!(
        o,
        "- **Sizes are per container.** A lab host's containers share its CPU and memory;"
    );
    emit!(
        o,
        "  here each container is limited to the host's size, and requests what it"
    );
    emit!(o, "  needs at rest.");
    emit!(
        o,
        "- **Volumes.** Each database keeps its data on a volume claim of 1 GiB"
    );
    emit!(
        o,
        "  (`db-data`), from the cluster's default storage class. The application's"
    );
    emit!(
        o,
        "  releases live in a scratch volume: a pod that starts again runs the release"
    );
    emit!(o, "  the design names.");
    emit!(
        o,
        "- **Not here:** topolab's faults (they act on the lab's containers and"
    );
    emit!(
        o,
        "  networks), its monitor and traffic generator, and promotion. A replica is"
    );
    emit!(
        o,
        "  promoted by hand: stop replication on it, make it writable, and point the"
    );
    emit!(
        o,
        "  apps' `app.json` (in their ConfigMaps) at it, then restart the apps' pods"
    );
    emit!(
        o,
        "  (`kubectl -n {ns} rollout restart statefulset/HOST`): a file mounted from a"
    );
    emit!(
        o,
        "  ConfigMap by `subPath` is not updated in a running pod."
    );
    emit!(o, "\n## Files\n");
    emit!(
        o,
        "- `kustomization.yaml`: the list of the others, for `kubectl apply -k`."
    );
    emit!(o, "- `namespace.yaml`: the namespace `{ns}`.");
    if t.hosts.iter().any(|h| h.has(ComponentKind::App)) {
        emit!(
            o,
            "- `config.yaml`: the application's releases, shared by every app host."
        );
    }
    for host in &t.hosts {
        let kinds: Vec<&str> = host.components.iter().map(|c| c.kind().as_str()).collect();
        emit!(
            o,
            "- `{}.yaml`: {} ({}): its files, its headless Service and its StatefulSet{}.",
            host.name,
            host.name,
            kinds.join(", "),
            if published_ports(t).iter().any(|p| p.host == host.name) {
                ", and the Service `".to_owned() + host.name.as_str() + "-entry` that reaches it"
            } else {
                String::new()
            }
        );
    }
    if t.monitoring.enabled {
        emit!(o, "- `monitoring.yaml`: Prometheus, scraping by name.");
    }
    if t.security.segmentation {
        emit!(o, "- `network-policies.yaml`: the tiers.");
    }
    emit!(
        o,
        "- `{SECRET_FILE}`: the design's random passwords and TLS key (keep private;"
    );
    emit!(
        o,
        "  each container mounts only those it reads, as files readable by root)."
    );
    o
}

fn uses_image(ctx: &Ctx, host: &Host, role: super::recipe::ImageRole) -> bool {
    pod_recipes(ctx, host).iter().any(|r| r.image == role)
}
