//! The inspector: every setting of the selected host or component (or of
//! the topology when nothing is selected). Edits a copy of the topology and
//! turns a change into one undoable [`Intent::Edit`].

use egui::RichText;

use super::app::TopolabApp;
use super::explain;
use super::intent::Intent;
use crate::model::{
    Algorithm, AppServer, Backend, Component, ComponentId, ComponentKind, DnsZone, Failover,
    Flavor, Host, HostName, LoadBalancer, RELEASES, ReadYourWrites, ReplicationMode, Role, Subject,
    Topology, Vip, rename_host,
};

impl TopolabApp {
    pub(super) fn inspector_ui(&mut self, ui: &mut egui::Ui, intents: &mut Vec<Intent>) {
        let mut t = self.doc.topology().clone();
        let key = match self.selection.clone() {
            None => {
                ui.heading("Topology");
                topology_ui(ui, &mut t)
            }
            Some(Subject::Host(h)) => {
                if t.host(&h).is_none() {
                    intents.push(Intent::Select(None));
                    return;
                }
                self.host_ui(ui, &mut t, &h, intents)
            }
            Some(Subject::Component(id)) => {
                if t.host(&id.host)
                    .and_then(|h| h.component(id.kind))
                    .is_none()
                {
                    intents.push(Intent::Select(None));
                    return;
                }
                ui.heading(id.to_string());
                ui.label(RichText::new(explain::component(&t, &id)).italics());
                ui.separator();
                self.live_inspector_ui(ui, &id, intents);
                component_ui(ui, &mut t, &id);
                ui.separator();
                if ui.button("Delete this component").clicked() {
                    intents.push(Intent::DeleteSelected);
                }
                format!("edit {id}")
            }
        };
        if &t != self.doc.topology() {
            intents.push(Intent::Edit {
                key,
                topology: Box::new(t),
            });
        }
    }

    fn host_ui(
        &mut self,
        ui: &mut egui::Ui,
        t: &mut Topology,
        h: &HostName,
        intents: &mut Vec<Intent>,
    ) -> String {
        ui.heading(format!("Host {h}"));
        ui.label(RichText::new(explain::host()).italics());
        ui.separator();
        if self.live_active() {
            self.faults_ui(ui, &Subject::Host(h.clone()), intents);
            ui.separator();
        }
        self.rename_ui(ui, t, h, intents);
        let Some(host) = t.host_mut(h) else {
            return String::new();
        };
        ui.horizontal(|ui| {
            ui.label("Region").on_hover_text(
                "Where the host runs, e.g. eu-west. Hosts without one share the default region; \
                 the review counts one region as a single point of failure.",
            );
            let mut region = host.region.clone().unwrap_or_default();
            if ui.text_edit_singleline(&mut region).changed() {
                host.region = (!region.is_empty()).then_some(region);
            }
        });
        ui.horizontal(|ui| {
            ui.label("Size").on_hover_text(
                "The host's CPUs and memory, as a VM's: its components share them, and the lab \
                 holds them to it.",
            );
            ui.add(
                egui::DragValue::new(&mut host.size.cpus)
                    .range(crate::model::MIN_CPUS..=64.0)
                    .speed(0.05)
                    .max_decimals(2)
                    .suffix(" CPU"),
            );
            ui.add(
                egui::DragValue::new(&mut host.size.memory_mib)
                    .range(crate::model::MIN_MEMORY_MIB..=262_144)
                    .speed(16.0)
                    .suffix(" MiB"),
            );
        });
        if self.live_active()
            && let Some(&(cpu, memory)) = self.lab.live.state.host_resources().get(h)
        {
            let cores = f64::from(cpu) / 100.0;
            let share = cores / host.size.cpus.max(f64::EPSILON);
            let text = format!(
                "Using {cores:.2} of {} CPU ({:.0}%), {} of {} MiB",
                crate::model::cpus_text(host.size.cpus),
                share * 100.0,
                memory / (1024 * 1024),
                host.size.memory_mib
            );
            if share >= crate::capacity::SATURATED {
                ui.colored_label(
                    egui::Color32::from_rgb(0xd0, 0x60, 0x20),
                    format!("{text}: at its size"),
                );
            } else {
                ui.label(text);
            }
        }
        ui.separator();
        ui.label(RichText::new("Components").strong());
        let (remove, add) = components_ui(ui, host, intents);
        // Adding or removing a component is an undo step of its own.
        if remove.is_some() || add.is_some() {
            let mut edited = t.clone();
            if let Some(kind) = remove {
                crate::model::delete_component(&mut edited, h, kind);
            }
            if let Some(kind) = add
                && let Some(host) = edited.host_mut(h)
            {
                host.components.push(Component::with_defaults(kind));
            }
            self.serial += 1;
            intents.push(Intent::Edit {
                key: format!("change {h}'s components #{}", self.serial),
                topology: Box::new(edited),
            });
        }
        ui.separator();
        if ui.button("Delete this host").clicked() {
            intents.push(Intent::DeleteSelected);
        }
        format!("edit {h}")
    }

    /// The host's name. Renames apply on Enter or leaving the field; an
    /// invalid name is refused with the reason.
    fn rename_ui(
        &mut self,
        ui: &mut egui::Ui,
        t: &mut Topology,
        h: &HostName,
        intents: &mut Vec<Intent>,
    ) {
        let id = egui::Id::new(("rename", h.as_str()));
        let mut draft: String = ui
            .data_mut(|d| d.get_temp(id))
            .unwrap_or_else(|| h.to_string());
        ui.horizontal(|ui| {
            let label = ui.label("Host name");
            let edit = ui.text_edit_singleline(&mut draft).labelled_by(label.id);
            if edit.lost_focus() && draft != h.as_str() {
                match rename_host(t, h, &draft) {
                    Ok(new) => {
                        intents.push(Intent::Select(Some(Subject::Host(new))));
                        ui.data_mut(|d| d.remove::<String>(id));
                        self.say(format!("renamed {h} to {draft}"), false);
                    }
                    Err(why) => {
                        self.say(format!("cannot rename {h}: {why}"), true);
                        ui.data_mut(|d| d.remove::<String>(id));
                    }
                }
            } else if edit.changed() {
                ui.data_mut(|d| d.insert_temp(id, draft.clone()));
            }
        });
    }
}

/// The host's components, each with remove and select, and the kinds it
/// could add; the kind to remove and the kind to add, if one was clicked.
fn components_ui(
    ui: &mut egui::Ui,
    host: &Host,
    intents: &mut Vec<Intent>,
) -> (Option<ComponentKind>, Option<ComponentKind>) {
    let mut remove = None;
    for c in &host.components {
        ui.horizontal(|ui| {
            ui.label(format!(
                "{} {}",
                super::canvas::kind_icon(c.kind()),
                c.kind().program()
            ));
            if ui.small_button("remove").clicked() {
                remove = Some(c.kind());
            }
            if ui.small_button("select").clicked() {
                intents.push(Intent::Select(Some(Subject::Component(ComponentId::new(
                    &host.name,
                    c.kind(),
                )))));
            }
        });
    }
    let mut add = None;
    ui.horizontal(|ui| {
        ui.label("Add");
        for kind in ComponentKind::ALL {
            if !host.has(kind)
                && ui
                    .button(format!("+ {}", kind.as_str()))
                    .on_hover_text(explain::kind(kind))
                    .clicked()
            {
                add = Some(kind);
            }
        }
    });
    (remove, add)
}

fn topology_ui(ui: &mut egui::Ui, t: &mut Topology) -> String {
    egui::Grid::new("topology").num_columns(2).show(ui, |ui| {
        tip(ui, "Name", "The design's short name (a DNS label): the lab and its containers are named after it.");
        ui.text_edit_singleline(&mut t.name);
        ui.end_row();
        tip(ui, "Domain", "The site's public name: the load balancers' certificate and the clients' URL use it.");
        ui.text_edit_singleline(&mut t.domain);
        ui.end_row();
        tip(ui, "Description", "One line for people; the exported README starts with it.");
        ui.text_edit_multiline(&mut t.description);
        ui.end_row();
        tip(ui, "Database", "MySQL or MariaDB for every database (the local image profile runs MariaDB either way, and says so).");
        egui::ComboBox::from_id_salt("flavor")
            .selected_text(t.databases.flavor.as_str())
            .show_ui(ui, |ui| {
                for f in Flavor::ALL {
                    ui.selectable_value(&mut t.databases.flavor, f, f.as_str());
                }
            });
        ui.end_row();
        tip(ui, "Replication", "How a replica follows its primary: asynchronous (a write is acknowledged before any replica has it) or semi-synchronous (once one has received it).");
        egui::ComboBox::from_id_salt("replication")
            .selected_text(match t.databases.replication {
                ReplicationMode::Async => "asynchronous",
                ReplicationMode::SemiSync => "semi-synchronous",
            })
            .show_ui(ui, |ui| {
                ui.selectable_value(
                    &mut t.databases.replication,
                    ReplicationMode::Async,
                    "asynchronous",
                )
                .on_hover_text(explain::ASYNC);
                ui.selectable_value(
                    &mut t.databases.replication,
                    ReplicationMode::SemiSync,
                    "semi-synchronous",
                )
                .on_hover_text(explain::SEMI_SYNC);
            });
        ui.end_row();
        failover_ui(ui, &mut t.databases.failover);
    });
    ui.checkbox(&mut t.security.tls, "HTTPS at the load balancers (TLS)")
        .on_hover_text("Terminate TLS at the load balancer with the lab's certificate.");
    ui.checkbox(&mut t.security.segmentation, "A network per tier (firewall)")
        .on_hover_text("Load balancers and web servers on one network, apps and databases on another: the load balancer cannot reach a database.");
    ui.checkbox(&mut t.monitoring.enabled, "Monitoring (Prometheus)")
        .on_hover_text(
            "Prometheus scrapes HAProxy's metrics and a MySQL exporter beside each database.",
        );
    ui.separator();
    ui.label(RichText::new("Select a host or component on the canvas to edit it.").weak());
    "edit topology".to_owned()
}

fn component_ui(ui: &mut egui::Ui, t: &mut Topology, id: &ComponentId) {
    let web_hosts: Vec<HostName> = t
        .hosts
        .iter()
        .filter(|h| h.has(ComponentKind::Nginx))
        .map(|h| h.name.clone())
        .collect();
    let primaries: Vec<HostName> = t
        .databases()
        .filter(|(h, db)| db.role == Role::Primary && h.name != id.host)
        .map(|(h, _)| h.name.clone())
        .collect();
    let Some(component) = t
        .host_mut(&id.host)
        .and_then(|h| h.components.iter_mut().find(|c| c.kind() == id.kind))
    else {
        return;
    };
    match component {
        Component::Lb(lb) => {
            lb_settings_ui(ui, lb);
            ui.separator();
            backends_ui(ui, lb, &web_hosts);
        }
        Component::Nginx(web) => {
            ui.horizontal(|ui| {
                tip(
                    ui,
                    "Port",
                    "The port Nginx listens on; the load balancers' backends use it.",
                );
                bounded(ui, &mut web.port, 1..=65535, "the port");
            });
        }
        Component::App(app) => {
            egui::Grid::new("app").num_columns(2).show(ui, |ui| {
                tip(ui, "Port (127.0.0.1)", "The port the app server listens on, on its host only: Nginx reaches it there.");
                bounded(ui, &mut app.port, 1..=65535, "the port");
                ui.end_row();
                tip(ui, "Replication group", "The databases this app uses: it writes to the group's primary and reads from its replicas.");
                ui.text_edit_singleline(&mut app.group);
                ui.end_row();
                read_your_writes_ui(ui, app);
                release_ui(ui, app);
            });
        }
        Component::Db(db) => {
            egui::Grid::new("db").num_columns(2).show(ui, |ui| {
                tip(ui, "Role", "Primary: takes the writes. Replica of a primary: copies its writes and serves reads.");
                let current = match &db.role {
                    Role::Primary => "primary".to_owned(),
                    Role::Replica { of } => format!("replica of {of}"),
                };
                egui::ComboBox::from_id_salt("role")
                    .selected_text(current)
                    .show_ui(ui, |ui| {
                        ui.selectable_value(&mut db.role, Role::Primary, "primary");
                        for p in &primaries {
                            ui.selectable_value(
                                &mut db.role,
                                Role::Replica { of: p.clone() },
                                format!("replica of {p}"),
                            );
                        }
                    });
                ui.end_row();
                tip(ui, "Replication group", "One primary and its replicas; the apps of the same group use them.");
                ui.text_edit_singleline(&mut db.group);
                ui.end_row();
                tip(ui, "Port", "The port MySQL listens on.");
                bounded(ui, &mut db.port, 1..=65535, "the port");
                ui.end_row();
            });
        }
        Component::Dns(dns) => {
            egui::Grid::new("dns").num_columns(2).show(ui, |ui| {
                tip(ui, "Port", "The port PowerDNS answers on, UDP and TCP (published on 127.0.0.1 for the lab's clients).");
                bounded(ui, &mut dns.port, 1..=65535, "the port");
                ui.end_row();
            });
        }
    }
    if id.kind == ComponentKind::Dns {
        ui.separator();
        ui.label(RichText::new("Records (every DNS server answers alike)").strong());
        dns_zone_ui(ui, &mut t.dns);
    }
}

/// The DNS records' settings: their TTL, and whether they are health-checked.
fn dns_zone_ui(ui: &mut egui::Ui, zone: &mut DnsZone) {
    egui::Grid::new("dns-zone").num_columns(2).show(ui, |ui| {
        tip(ui, "TTL (s)", "How long a client keeps an answer: a changed record, a dead entry point or a dead DNS server reaches it only once its answer expires (1-86400).");
        bounded(ui, &mut zone.ttl_s, 1..=DnsZone::MAX_TTL_S, "the TTL");
        ui.end_row();
    });
    ui.checkbox(&mut zone.health_checked, "Health-checked records")
        .on_hover_text("PowerDNS connects to every entry point each second and answers only with those that accept (its LUA records' ifportup); off, the records name every entry point, up or down.");
}

/// The app's read-your-writes setting, as two rows of its grid: the way
/// (a combo) and, unless off, its milliseconds.
fn read_your_writes_ui(ui: &mut egui::Ui, app: &mut AppServer) {
    /// What a way starts with when chosen.
    const DEFAULT_MS: u32 = 1000;
    let ms = match app.read_your_writes {
        ReadYourWrites::Off => DEFAULT_MS,
        ReadYourWrites::FromPrimary { window_ms: ms }
        | ReadYourWrites::WaitForReplica { timeout_ms: ms } => ms,
    };
    let ways = [
        (ReadYourWrites::Off, "Off".to_owned(), explain::RYW_OFF),
        (
            ReadYourWrites::FromPrimary { window_ms: ms },
            format!("From the primary for {ms} ms"),
            explain::RYW_FROM_PRIMARY,
        ),
        (
            ReadYourWrites::WaitForReplica {
                timeout_ms: ms.min(ReadYourWrites::MAX_WAIT_MS),
            },
            format!(
                "Wait for the replica up to {} ms",
                ms.min(ReadYourWrites::MAX_WAIT_MS)
            ),
            explain::RYW_WAIT_FOR_REPLICA,
        ),
    ];
    let label = ui
        .label("Read your writes")
        .on_hover_text(explain::READ_YOUR_WRITES);
    let current = ways
        .iter()
        .find(|(way, _, _)| *way == app.read_your_writes)
        .map_or_else(
            || app.read_your_writes.describe(),
            |(_, name, _)| name.clone(),
        );
    egui::ComboBox::from_id_salt("read-your-writes")
        .selected_text(current)
        .show_ui(ui, |ui| {
            for (way, name, meaning) in ways {
                ui.selectable_value(&mut app.read_your_writes, way, name)
                    .on_hover_text(meaning);
            }
        })
        .response
        .labelled_by(label.id);
    ui.end_row();
    let (name, meaning, ms, most) = match &mut app.read_your_writes {
        ReadYourWrites::Off => return,
        ReadYourWrites::FromPrimary { window_ms } => (
            "Window (ms)",
            "How long after a client's write its reads go to the primary.",
            window_ms,
            ReadYourWrites::MAX_WINDOW_MS,
        ),
        ReadYourWrites::WaitForReplica { timeout_ms } => (
            "Longest wait (ms)",
            "How long a read waits for its replica to apply the client's write before it goes to the primary.",
            timeout_ms,
            ReadYourWrites::MAX_WAIT_MS,
        ),
    };
    tip(ui, name, meaning);
    bounded(ui, ms, 1..=most, "the time");
    ui.end_row();
}

/// The databases' failover policy, as rows of the topology's grid: who
/// promotes (a combo) and, when automatic, how sure it must be, how
/// often it may act and whether it may lose writes.
fn failover_ui(ui: &mut egui::Ui, failover: &mut Failover) {
    const MANUAL: &str = "Manual (a person promotes)";
    const AUTOMATIC: &str = "Automatic (topolab's orchestrator)";
    let label = ui.label("Failover").on_hover_text(explain::FAILOVER);
    // Automatic as it is set, or with the defaults when chosen.
    let automatic = if failover.is_manual() {
        Failover::automatic()
    } else {
        *failover
    };
    egui::ComboBox::from_id_salt("failover")
        .selected_text(if failover.is_manual() {
            MANUAL
        } else {
            AUTOMATIC
        })
        .show_ui(ui, |ui| {
            ui.selectable_value(failover, Failover::Manual, MANUAL)
                .on_hover_text(explain::FAILOVER_MANUAL);
            ui.selectable_value(failover, automatic, AUTOMATIC)
                .on_hover_text(explain::FAILOVER_AUTOMATIC);
        })
        .response
        .labelled_by(label.id);
    ui.end_row();
    let Failover::Automatic {
        agree,
        within_ms,
        quiet_s,
        accept_loss,
    } = failover
    else {
        return;
    };
    tip(ui, "Sources that agree", explain::FAILOVER_AGREE);
    bounded(ui, agree, 1..=3, "agreement");
    ui.end_row();
    tip(ui, "Within (ms)", explain::FAILOVER_WITHIN);
    bounded(ui, within_ms, 100..=60_000, "the window");
    ui.end_row();
    tip(ui, "Quiet after (s)", explain::FAILOVER_QUIET);
    bounded(ui, quiet_s, 0..=3600, "the quiet time");
    ui.end_row();
    tip(ui, "If writes are lost", explain::FAILOVER_ACCEPT_LOSS);
    ui.checkbox(accept_loss, "promote anyway")
        .on_hover_text(explain::FAILOVER_ACCEPT_LOSS);
    ui.end_row();
}

/// The app's release, as a row of its grid: what a launch runs and an
/// apply switches to (a deploy does it batch by batch).
fn release_ui(ui: &mut egui::Ui, app: &mut AppServer) {
    let label = ui.label("Release").on_hover_text(
        "The application's files this host runs. Applying a change of it switches the host \
         the way a deploy does (drained, switched, restarted, checked); Deploy… (in the \
         toolbar) rolls a release out to every host, batch by batch.",
    );
    egui::ComboBox::from_id_salt("release")
        .selected_text(app.release.as_str())
        .show_ui(ui, |ui| {
            for r in RELEASES {
                ui.selectable_value(&mut app.release, r.to_owned(), r)
                    .on_hover_text(explain::release(r));
            }
        })
        .response
        .labelled_by(label.id);
    ui.end_row();
}

/// A load balancer's algorithm, health checks, retries and ports.
fn lb_settings_ui(ui: &mut egui::Ui, lb: &mut LoadBalancer) {
    egui::Grid::new("lb").num_columns(2).show(ui, |ui| {
        ui.label("Algorithm");
        egui::ComboBox::from_id_salt("algorithm")
            .selected_text(lb.algorithm.keyword())
            .show_ui(ui, |ui| {
                for a in Algorithm::ALL {
                    ui.selectable_value(&mut lb.algorithm, a, a.keyword())
                        .on_hover_text(explain::algorithm(a));
                }
            });
        ui.end_row();
        tip(ui, "Check every (ms)", "How often HAProxy checks each server (`inter`): GET /health on its Nginx. Shorter finds a dead server sooner and costs a request each time.");
        bounded(ui, &mut lb.health_check.interval_ms, 10..=60_000, "the interval");
        ui.end_row();
        tip(ui, "DOWN after (fall)", "Failed checks in a row before HAProxy takes a server out of rotation (`fall`). Detection takes about fall × interval; a refused connection on live traffic takes it out at once.");
        bounded(ui, &mut lb.health_check.fall, 1..=20, "fall");
        ui.end_row();
        tip(ui, "UP after (rise)", "Passed checks in a row before a server comes back into rotation (`rise`): a flapping server does not get traffic at every good check.");
        bounded(ui, &mut lb.health_check.rise, 1..=20, "rise");
        ui.end_row();
        tip(ui, "Retries", "How many times HAProxy retries a request whose connection failed (`retries`), before answering 503.");
        bounded(ui, &mut lb.retries, 0..=10, "retries");
        ui.end_row();
        tip(ui, "Connect timeout (ms)", "How long HAProxy waits for a server to accept a connection (`timeout connect`).");
        bounded(ui, &mut lb.connect_timeout_ms, 1..=60_000, "the timeout");
        ui.end_row();
        tip(ui, "Port", "The port HAProxy listens on inside its host.");
        bounded(ui, &mut lb.port, 1..=65535, "the port");
        ui.end_row();
        tip(ui, "Published port", "Pin the port on 127.0.0.1 where the lab publishes this load balancer; unpinned, the lab picks a free one.");
        let mut pinned = lb.published_port.is_some();
        ui.horizontal(|ui| {
            ui.checkbox(&mut pinned, "pin");
            let mut port = lb.published_port.unwrap_or(8080);
            if pinned {
                ui.add(egui::DragValue::new(&mut port).range(1..=65535));
            }
            lb.published_port = pinned.then_some(port);
        });
        ui.end_row();
        tip(ui, "Virtual IP", "An address this load balancer shares with the others given the same number (.220 to .249 of their network): keepalived (VRRP) keeps it on one that serves and moves it within a fraction of a second when that one fails. Clients and DNS records use the address.");
        let mut shared = lb.vip.is_some();
        ui.horizontal(|ui| {
            ui.checkbox(&mut shared, "share");
            let mut number = lb.vip.unwrap_or(Vip::FIRST);
            if shared {
                ui.label(".");
                ui.add(egui::DragValue::new(&mut number).range(Vip::FIRST..=Vip::LAST));
            }
            lb.vip = shared.then_some(number);
        });
        ui.end_row();
    });
    ui.checkbox(&mut lb.redispatch, "Retry on another server (redispatch)")
        .on_hover_text("When a retry is due, send it to another server instead of the same one (`option redispatch`): a request to a server that just died is answered by another.");
    ui.checkbox(&mut lb.stats, "Stats page")
        .on_hover_text("HAProxy's statistics page, next to the site on the load balancer.");
}

/// A load balancer's backends, and the web servers it could add.
fn backends_ui(ui: &mut egui::Ui, lb: &mut LoadBalancer, web_hosts: &[HostName]) {
    ui.label(
        RichText::new(if lb.is_active_passive() {
            "Backends — active-passive"
        } else {
            "Backends — active-active"
        })
        .strong(),
    )
    .on_hover_text(explain::ACTIVE_ACTIVE);
    let mut remove = None;
    egui::Grid::new("backends").num_columns(4).show(ui, |ui| {
        for (i, b) in lb.backends.iter_mut().enumerate() {
            ui.label(b.host.as_str());
            ui.label("weight").on_hover_text(
                "Its share of the requests against the other servers' (HAProxy `weight`, 1-256): weight 2 gets twice what weight 1 gets.",
            );
            bounded(ui, &mut b.weight, 1..=256, "a weight");
            ui.checkbox(&mut b.backup, "backup")
                .on_hover_text(explain::BACKUP);
            if ui.small_button("remove").clicked() {
                remove = Some(i);
            }
            ui.end_row();
        }
    });
    if let Some(i) = remove {
        lb.backends.remove(i);
    }
    let candidates: Vec<&HostName> = web_hosts
        .iter()
        .filter(|h| !lb.backends.iter().any(|b| &b.host == *h))
        .collect();
    if !candidates.is_empty() {
        ui.horizontal(|ui| {
            ui.label("Connect");
            for h in candidates {
                if ui.button(format!("+ {h}")).clicked() {
                    lb.backends.push(Backend::new(h.clone()));
                }
            }
        });
    }
}

/// A field's name in a grid, with what it means on hover.
fn tip(ui: &mut egui::Ui, name: &str, meaning: &str) {
    ui.label(name).on_hover_text(meaning);
}

/// A number field that keeps its value within `range`, and says so for a
/// few seconds when it had to (a typed 300 for a weight becomes 256, not
/// silently).
fn bounded<T>(ui: &mut egui::Ui, value: &mut T, range: std::ops::RangeInclusive<T>, what: &str)
where
    T: egui::emath::Numeric + std::fmt::Display,
{
    let response = ui.add(egui::DragValue::new(value));
    let id = response.id.with("clamped");
    let (lo, hi) = (*range.start(), *range.end());
    if *value < lo || *value > hi {
        let typed = *value;
        *value = if typed < lo { lo } else { hi };
        let note = format!("{what} is {lo}-{hi}: {typed} became {}", *value);
        let now = ui.input(|i| i.time);
        ui.data_mut(|d| d.insert_temp(id, (note, now)));
    }
    let shown: Option<(String, f64)> = ui.data(|d| d.get_temp(id));
    if let Some((note, at)) = shown {
        let age = ui.input(|i| i.time) - at;
        if age < CLAMP_NOTE_SECONDS {
            response.clone().on_hover_text(&note);
            ui.label(RichText::new(note).color(super::style::WARN).small());
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_secs_f64(
                    CLAMP_NOTE_SECONDS - age,
                ));
        }
    }
}

/// How long a clamped number's note shows.
const CLAMP_NOTE_SECONDS: f64 = 5.0;
