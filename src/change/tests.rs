//! Table-driven: for each kind of edit, the actions and classes planned.

use super::*;
use crate::model::{Algorithm, Backend, Position};
use crate::preset::Preset;

fn reference() -> Topology {
    Preset::find("reference")
        .expect("preset")
        .topology()
        .expect("valid")
}

const MARIADB: Running = Running {
    flavor: Flavor::Mariadb,
    would_run: Flavor::Mariadb,
};

fn lb(t: &mut Topology) -> &mut LoadBalancer {
    t.host_mut(&HostName::new("lb-01"))
        .and_then(Host::load_balancer_mut)
        .expect("lb-01")
}

fn web_server(name: &str, db: Option<Role>) -> Host {
    let mut h = Host::new(name).with([
        Component::with_defaults(ComponentKind::Nginx),
        Component::with_defaults(ComponentKind::App),
    ]);
    if let Some(role) = db {
        h.components.push(Component::Db(crate::model::Database {
            role,
            ..Default::default()
        }));
    }
    h
}

/// (what the edit is, the edit, the expected (summary start, impact) of
/// each action, in order).
type Case = (&'static str, Edit, Vec<(&'static str, Impact)>);

/// An edit of a design.
type Edit = fn(&mut Topology);

fn cases() -> Vec<Case> {
    vec![
        ("identity", |_| {}, vec![]),
        (
            "positions, description and name",
            |t| {
                t.hosts[0].position = Some(Position { x: 1.0, y: 2.0 });
                t.description = "mine".to_owned();
                t.name = "other".to_owned();
            },
            vec![],
        ),
        (
            "add a web server to the pool",
            |t| {
                t.hosts.push(web_server("web-03", None));
                lb(t).backends.push(Backend::new("web-03"));
            },
            vec![
                ("add host web-03 (nginx, app)", Impact::Hitless),
                ("lb-01/lb: web-03 joins (weight 100)", Impact::Hitless),
            ],
        ),
        (
            "algorithm",
            |t| lb(t).algorithm = Algorithm::LeastConn,
            vec![(
                "lb-01/lb: algorithm roundrobin → leastconn",
                Impact::Hitless,
            )],
        ),
        (
            "weight",
            |t| lb(t).backends[1].weight = 50,
            vec![("lb-01/lb: web-02 weight 100 → 50", Impact::Hitless)],
        ),
        (
            "health checks, retries, stats, backup",
            |t| {
                let lb = lb(t);
                lb.health_check.interval_ms = 500;
                lb.retries = 3;
                lb.stats = true;
                lb.backends[1].backup = true;
            },
            vec![(
                "lb-01/lb: web-02 becomes a backup; checks every 250 ms",
                Impact::Hitless,
            )],
        ),
        (
            "add a replica on a new host",
            |t| {
                t.hosts.push(
                    Host::new("db-03").with([Component::Db(crate::model::Database {
                        role: Role::Replica {
                            of: HostName::new("web-01"),
                        },
                        ..Default::default()
                    })]),
                );
            },
            vec![("add host db-03 (db (replica of web-01))", Impact::Hitless)],
        ),
        (
            "async to semi-sync",
            |t| t.databases.replication = ReplicationMode::SemiSync,
            vec![("replication becomes semi-synchronous", Impact::Hitless)],
        ),
        (
            "monitoring on",
            |t| t.monitoring.enabled = true,
            vec![("monitoring starts", Impact::Hitless)],
        ),
        (
            "a host's release",
            |t| {
                if let Some(app) = t
                    .host_mut(&HostName::new("web-02"))
                    .and_then(Host::app_server_mut)
                {
                    app.release = "v2".to_owned();
                }
            },
            vec![("web-02/app: release v1 → v2", Impact::Hitless)],
        ),
        (
            "automatic failover",
            |t| {
                t.databases.failover = crate::model::Failover::automatic();
            },
            vec![("failover becomes automatic", Impact::Hitless)],
        ),
        (
            "remove a web server (its database with it)",
            |t| {
                lb(t).backends.retain(|b| b.host.as_str() != "web-02");
                t.hosts.retain(|h| h.name.as_str() != "web-02");
            },
            vec![
                ("lb-01/lb: web-02 leaves (drained first)", Impact::Hitless),
                ("remove host web-02", Impact::Destructive),
            ],
        ),
        (
            "remove the replica database only",
            |t| {
                let web = t.host_mut(&HostName::new("web-02")).expect("web-02");
                web.components.retain(|c| c.kind() != ComponentKind::Db);
            },
            vec![("remove db from web-02", Impact::Destructive)],
        ),
        (
            "nginx port",
            |t| {
                let web = t.host_mut(&HostName::new("web-02")).expect("web-02");
                for c in &mut web.components {
                    if let Component::Nginx(n) = c {
                        n.port = 8080;
                    }
                }
            },
            vec![("web-02/nginx: port 80 → 8080", Impact::Brief)],
        ),
        (
            "host size",
            |t| t.hosts[1].size.cpus = 2.0,
            vec![("resize web-01", Impact::Hitless)],
        ),
    ]
}

#[test]
fn each_kind_of_edit_plans_its_actions_and_classes() {
    for (what, edit, expected) in cases() {
        let lab = reference();
        let mut edited = lab.clone();
        edit(&mut edited);
        let plan = plan(&lab, &edited, MARIADB).expect(what);
        assert!(plan.relaunch.is_empty(), "{what}: {:?}", plan.relaunch);
        let got: Vec<(String, Impact)> = plan
            .actions
            .iter()
            .map(|a| (a.summary.clone(), a.impact))
            .collect();
        assert_eq!(got.len(), expected.len(), "{what}: {got:?}");
        for ((summary, impact), (start, want)) in got.iter().zip(&expected) {
            assert!(summary.starts_with(start), "{what}: {summary:?}");
            assert_eq!(impact, want, "{what}: {summary}");
        }
        // Recording every step, in order, gives the lab the edited
        // design: nothing is left to plan.
        let mut recorded = lab.clone();
        for a in &plan.actions {
            a.step.record(&mut recorded);
        }
        let again = super::plan(&recorded, &edited, MARIADB).expect(what);
        assert!(again.actions.is_empty(), "{what}: {:?}", again.actions);
        assert!(recorded.runs_like(&plan.target), "{what}");
        // No plan ever talks about where the canvas draws a host.
        assert!(
            plan.actions.iter().all(|a| !a.summary.contains("position")),
            "{what}"
        );
    }
}

#[test]
fn what_a_running_lab_cannot_take_asks_for_a_relaunch() {
    let lab = reference();
    let edits: [(&str, Edit); 5] = [
        ("TLS", |t| t.security.tls = true),
        ("segmentation", |t| t.security.segmentation = true),
        ("domain", |t| t.domain = "example.org".to_owned()),
        ("published port", |t| lb(t).published_port = Some(18099)),
        ("database port", |t| {
            if let Some(db) = t.hosts[2].components.iter_mut().find_map(|c| match c {
                Component::Db(d) => Some(d),
                _ => None,
            }) {
                db.port = 3307;
            }
        }),
    ];
    for (what, edit) in edits {
        let mut edited = lab.clone();
        edit(&mut edited);
        let plan = plan(&lab, &edited, MARIADB).expect(what);
        assert_eq!(plan.relaunch.len(), 1, "{what}: {:?}", plan.relaunch);
        assert!(plan.actions.is_empty(), "{what}");
    }
}

#[test]
fn the_flavor_is_recorded_when_the_same_program_runs_and_a_relaunch_when_not() {
    let lab = reference();
    let mut edited = lab.clone();
    edited.databases.flavor = Flavor::Mariadb;
    let same = plan(&lab, &edited, MARIADB).expect("plan");
    assert!(same.relaunch.is_empty());
    assert_eq!(same.actions.len(), 1);
    assert!(matches!(
        same.actions[0].step,
        Step::Record(Record::Flavor(Flavor::Mariadb))
    ));
    let other = plan(
        &lab,
        &edited,
        Running {
            flavor: Flavor::Mysql,
            would_run: Flavor::Mariadb,
        },
    )
    .expect("plan");
    assert_eq!(other.relaunch.len(), 1);
    assert!(other.relaunch[0].contains("destructive"));
}

#[test]
fn an_invalid_design_gives_no_plan() {
    let lab = reference();
    let mut edited = lab.clone();
    // A backend that runs no Nginx.
    lb(&mut edited).backends.push(Backend::new("nowhere"));
    let err = plan(&lab, &edited, MARIADB).expect_err("invalid");
    assert!(err.to_string().contains("not valid"), "{err}");
}

#[test]
fn the_lab_keeps_its_roles_after_a_promotion() {
    let mut lab = reference();
    // The lab promoted web-02.
    for h in &mut lab.hosts {
        let name = h.name.clone();
        if let Some(db) = h.database_mut() {
            db.role = if name.as_str() == "web-02" {
                Role::Primary
            } else {
                Role::Replica {
                    of: HostName::new("web-02"),
                }
            };
        }
    }
    // The design still says web-01 leads, and adds a replica of it.
    let mut edited = reference();
    edited.hosts.push(web_server(
        "web-03",
        Some(Role::Replica {
            of: HostName::new("web-01"),
        }),
    ));
    let plan = plan(&lab, &edited, MARIADB).expect("plan");
    assert_eq!(plan.actions.len(), 1, "{:?}", plan.actions);
    assert!(
        plan.actions[0].summary.contains("db (replica of web-02)"),
        "{}",
        plan.actions[0].summary
    );
    assert!(
        plan.notes.iter().any(|n| n.contains("keeps its role")),
        "{:?}",
        plan.notes
    );
    let web01 = plan.target.host(&HostName::new("web-01")).expect("web-01");
    assert!(matches!(
        web01.database().map(|d| &d.role),
        Some(Role::Replica { .. })
    ));
}

#[test]
fn a_destructive_plan_names_what_is_lost() {
    let lab = reference();
    let mut edited = lab.clone();
    lb(&mut edited)
        .backends
        .retain(|b| b.host.as_str() != "web-02");
    edited.hosts.retain(|h| h.name.as_str() != "web-02");
    let plan = plan(&lab, &edited, MARIADB).expect("plan");
    let lost: Vec<&Action> = plan.destructive().collect();
    assert_eq!(lost.len(), 1);
    assert!(
        lost[0].why.contains("web-02/db's data is deleted"),
        "{}",
        lost[0].why
    );
}
