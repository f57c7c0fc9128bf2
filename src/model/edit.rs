//! Edits a designer makes, as plain functions on the topology: adding a
//! host from the palette (wired into the design), renaming and deleting
//! with every reference kept consistent. Invalid results are not refused
//! here: `validate()` lists them as problems, so the user sees why.

use super::fix::unused_name;
use super::names::{ComponentKind, HostName, host_name_problem};
use super::topology::{Backend, Component, Database, Host, LoadBalancer, Position, Role, Topology};

/// The kinds of host the palette offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostTemplate {
    /// A load balancer in front of every web server.
    LoadBalancer,
    /// Nginx + app + database (the reference design's server).
    WebAppDb,
    /// Nginx + app.
    WebApp,
    /// A database only.
    Database,
    /// A DNS server answering for the site's name.
    Dns,
}

impl HostTemplate {
    /// Every template, in palette order.
    pub const ALL: [Self; 5] = [
        Self::LoadBalancer,
        Self::WebAppDb,
        Self::WebApp,
        Self::Database,
        Self::Dns,
    ];

    /// The palette's label.
    pub fn label(self) -> &'static str {
        match self {
            Self::LoadBalancer => "Load balancer",
            Self::WebAppDb => "Web/app/DB server",
            Self::WebApp => "Web/app server",
            Self::Database => "DB server",
            Self::Dns => "DNS server",
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Self::LoadBalancer => "lb",
            Self::WebAppDb | Self::WebApp => "web",
            Self::Database => "db",
            Self::Dns => "dns",
        }
    }
}

/// Adds a host made from `template`, wired in: a load balancer gets every
/// web server as a backend; a new web server becomes a backend of every
/// load balancer; a new database replicates the primary (or becomes the
/// primary when there is none). Returns the new host's name.
pub fn add_host(t: &mut Topology, template: HostTemplate) -> HostName {
    let name = unused_name(t, template.prefix());
    let mut host = Host::new(name.clone());
    let db = || {
        let primary = t.primary_of_group("main").map(|h| h.name.clone());
        Component::Db(Database {
            role: primary.map_or(Role::Primary, |of| Role::Replica { of }),
            ..Database::default()
        })
    };
    match template {
        HostTemplate::LoadBalancer => {
            let backends = t
                .hosts
                .iter()
                .filter(|h| h.has(ComponentKind::Nginx))
                .map(|h| Backend::new(h.name.clone()))
                .collect();
            host.components.push(Component::Lb(LoadBalancer {
                backends,
                ..LoadBalancer::default()
            }));
        }
        HostTemplate::WebAppDb => {
            host.components.extend([
                Component::with_defaults(ComponentKind::Nginx),
                Component::with_defaults(ComponentKind::App),
                db(),
            ]);
        }
        HostTemplate::WebApp => host.components.extend([
            Component::with_defaults(ComponentKind::Nginx),
            Component::with_defaults(ComponentKind::App),
        ]),
        HostTemplate::Database => host.components.push(db()),
        HostTemplate::Dns => host
            .components
            .push(Component::with_defaults(ComponentKind::Dns)),
    }
    host.position = free_spot(t, template);
    if matches!(template, HostTemplate::WebAppDb | HostTemplate::WebApp) {
        for h in &mut t.hosts {
            if let Some(lb) = h.load_balancer_mut() {
                lb.backends.push(Backend::new(name.clone()));
            }
        }
    }
    t.hosts.push(host);
    name
}

/// Where a new host goes on the canvas: right of the others in its tier.
/// `None` (the canvas's tiered layout) when no host has a position.
fn free_spot(t: &Topology, template: HostTemplate) -> Option<Position> {
    let y = match template {
        HostTemplate::Dns => -180.0,
        HostTemplate::LoadBalancer => 0.0,
        HostTemplate::WebAppDb | HostTemplate::WebApp => 200.0,
        HostTemplate::Database => 420.0,
    };
    let placed: Vec<Position> = t.hosts.iter().filter_map(|h| h.position).collect();
    if placed.is_empty() {
        return None;
    }
    let right = placed
        .iter()
        .filter(|p| (p.y - y).abs() < 150.0)
        .map(|p| p.x)
        .fold(None, |m: Option<f32>, x| Some(m.map_or(x, |m| m.max(x))));
    Some(Position {
        x: right.map_or(100.0, |x| x + 230.0),
        y,
    })
}

/// Removes `name` and every reference to it (backends). Replicas of it are
/// left pointing at it, so validation shows what the deletion broke.
pub fn delete_host(t: &mut Topology, name: &HostName) {
    t.hosts.retain(|h| &h.name != name);
    for h in &mut t.hosts {
        if let Some(lb) = h.load_balancer_mut() {
            lb.backends.retain(|b| &b.host != name);
        }
    }
}

/// Removes component `kind` from host `name` (and backends that pointed at
/// its web server).
pub fn delete_component(t: &mut Topology, name: &HostName, kind: ComponentKind) {
    if let Some(h) = t.host_mut(name) {
        h.components.retain(|c| c.kind() != kind);
    }
    if kind == ComponentKind::Nginx {
        for h in &mut t.hosts {
            if let Some(lb) = h.load_balancer_mut() {
                lb.backends.retain(|b| &b.host != name);
            }
        }
    }
}

/// Renames host `from` to `to`, updating backends and replication sources.
/// Refused, with the reason, when `to` cannot name a host (see
/// [`host_name_problem`]) or is taken.
pub fn rename_host(t: &mut Topology, from: &HostName, to: &str) -> Result<HostName, String> {
    if let Some(why) = host_name_problem(to) {
        return Err(format!("{to:?} {why}"));
    }
    let to = HostName::new(to);
    if &to == from {
        return Ok(to);
    }
    if t.host(&to).is_some() {
        return Err(format!("a host named {to} exists already"));
    }
    for h in &mut t.hosts {
        if &h.name == from {
            h.name = to.clone();
        }
        for c in &mut h.components {
            match c {
                Component::Lb(lb) => {
                    for b in &mut lb.backends {
                        if &b.host == from {
                            b.host = to.clone();
                        }
                    }
                }
                Component::Db(db) => {
                    if let Role::Replica { of } = &mut db.role
                        && of == from
                    {
                        *of = to.clone();
                    }
                }
                Component::Nginx(_) | Component::App(_) | Component::Dns(_) => {}
            }
        }
    }
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::validate;
    use crate::preset::Preset;

    fn reference() -> Topology {
        Preset::find("reference")
            .and_then(|p| p.topology().ok())
            .expect("reference")
    }

    #[test]
    fn a_new_web_server_becomes_a_backend_and_the_design_stays_valid() {
        let mut t = reference();
        let name = add_host(&mut t, HostTemplate::WebAppDb);
        assert_eq!(name.as_str(), "web-03");
        let lb = t.hosts[0].load_balancer().expect("lb");
        assert!(lb.backends.iter().any(|b| b.host == name));
        let db = t.host(&name).and_then(Host::database).expect("db");
        assert_eq!(
            db.role,
            Role::Replica {
                of: HostName::new("web-01")
            }
        );
        assert_eq!(validate(&t), vec![]);
        // Placed right of web-02 (x 500), in the servers' row.
        let p = t.host(&name).and_then(|h| h.position).expect("a position");
        assert_eq!((p.x, p.y), (730.0, 200.0));
    }

    #[test]
    fn renaming_updates_references() {
        let mut t = reference();
        rename_host(&mut t, &HostName::new("web-01"), "app-a").expect("renamed");
        assert_eq!(validate(&t), vec![]);
        assert!(rename_host(&mut t, &HostName::new("app-a"), "web-02").is_err());
        assert!(rename_host(&mut t, &HostName::new("app-a"), "Bad_Name").is_err());
    }

    #[test]
    fn deleting_the_primary_leaves_a_problem_to_see() {
        let mut t = reference();
        delete_host(&mut t, &HostName::new("web-01"));
        let problems = validate(&t);
        assert!(
            problems.iter().any(|p| p.message.contains("web-01")),
            "{problems:?}"
        );
        assert!(
            t.hosts[0]
                .load_balancer()
                .expect("lb")
                .backends
                .iter()
                .all(|b| b.host.as_str() != "web-01")
        );
    }
}
