//! The document: the topology being edited, where it lives on disk, its
//! undo history, and its analysis (problems, design review, generated
//! preview), computed off the UI thread. No egui here, so it is tested
//! without a window.

use std::path::PathBuf;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use crate::generate::{Artifacts, Secrets, Settings};
use crate::model::{Finding, Host, Problem, Topology, review, validate};

/// Edits with the same key within this time form one undo step (a drag,
/// typing a name).
const COALESCE: Duration = Duration::from_millis(800);
/// Undo steps kept.
const MAX_UNDO: usize = 200;

/// The topology being edited.
pub struct Document {
    topology: Topology,
    /// The file it was loaded from or saved to.
    pub path: Option<PathBuf>,
    /// Changed since the last load or save.
    pub dirty: bool,
    /// Earlier topologies, each with the name of the edit that left it.
    undo: Vec<(String, Topology)>,
    /// Undone topologies, each with the name of the edit that made it.
    redo: Vec<(String, Topology)>,
    last_edit: Option<(String, Instant)>,
    revision: u64,
    generation: u64,
    /// How deep the undo history was when the document was last loaded or
    /// saved (None: that state is no longer in the history).
    saved_depth: Option<usize>,
}

/// An edit's name for people: its key without the serial number some
/// keys carry to keep separate actions from coalescing ("... #3").
fn label(key: &str) -> String {
    match key.rsplit_once(" #") {
        Some((name, n)) if n.chars().all(|c| c.is_ascii_digit()) => name.to_owned(),
        _ => key.to_owned(),
    }
}

impl Document {
    /// A document holding `topology`, not yet saved anywhere.
    pub fn new(topology: Topology) -> Self {
        Self {
            topology,
            path: None,
            dirty: false,
            undo: Vec::new(),
            redo: Vec::new(),
            last_edit: None,
            revision: 0,
            generation: 0,
            saved_depth: Some(0),
        }
    }

    /// The topology.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// Grows on every change (load, edit, undo, redo): views rebuild when it moves.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Grows when the whole document is replaced (open, new, preset), not
    /// on edits: the canvas fits a new document to the view.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Replaces the topology as one undoable edit; `key` names the edit so
    /// that a run of edits with the same key (a drag) undoes as one.
    pub fn edit(&mut self, key: &str, topology: Topology) {
        if topology == self.topology {
            return;
        }
        let now = Instant::now();
        let coalesce = self
            .last_edit
            .as_ref()
            .is_some_and(|(k, at)| k == key && now.duration_since(*at) < COALESCE);
        if !coalesce {
            // An edit after undoing past the save leaves the saved state
            // on the dropped redo branch.
            if self.saved_depth.is_some_and(|d| d > self.undo.len()) {
                self.saved_depth = None;
            }
            let previous = std::mem::replace(&mut self.topology, topology);
            self.undo.push((label(key), previous));
            if self.undo.len() > MAX_UNDO {
                self.undo.remove(0);
                self.saved_depth = self.saved_depth.and_then(|d| d.checked_sub(1));
            }
        } else {
            self.topology = topology;
        }
        self.last_edit = Some((key.to_owned(), now));
        self.redo.clear();
        self.dirty = true;
        self.revision += 1;
    }

    /// Applies `f` to a copy of the topology as one edit.
    pub fn modify(&mut self, key: &str, f: impl FnOnce(&mut Topology)) {
        let mut t = self.topology.clone();
        f(&mut t);
        self.edit(key, t);
    }

    /// Replaces the whole document (open, new, preset): history is cleared.
    pub fn replace(&mut self, topology: Topology, path: Option<PathBuf>) {
        self.topology = topology;
        self.path = path;
        self.dirty = false;
        self.undo.clear();
        self.redo.clear();
        self.last_edit = None;
        self.revision += 1;
        self.generation += 1;
        self.saved_depth = Some(0);
    }

    /// Whether there is something to undo.
    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    /// Whether there is something to redo.
    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    /// What Undo would undo ("add host web-03").
    pub fn undo_label(&self) -> Option<&str> {
        self.undo.last().map(|(l, _)| l.as_str())
    }

    /// What Redo would redo.
    pub fn redo_label(&self) -> Option<&str> {
        self.redo.last().map(|(l, _)| l.as_str())
    }

    /// Undoes the last edit; its name.
    pub fn undo(&mut self) -> Option<String> {
        let (label, previous) = self.undo.pop()?;
        let undone = std::mem::replace(&mut self.topology, previous);
        self.redo.push((label.clone(), undone));
        self.after_history_move();
        Some(label)
    }

    /// Redoes the last undone edit; its name.
    pub fn redo(&mut self) -> Option<String> {
        let (label, next) = self.redo.pop()?;
        let redone = std::mem::replace(&mut self.topology, next);
        self.undo.push((label.clone(), redone));
        self.after_history_move();
        Some(label)
    }

    fn after_history_move(&mut self) {
        self.last_edit = None;
        // Back where it was saved: nothing to save.
        self.dirty = self.saved_depth != Some(self.undo.len());
        self.revision += 1;
    }

    /// Marks the document saved at `path`.
    pub fn saved(&mut self, path: PathBuf) {
        self.path = Some(path);
        self.dirty = false;
        self.saved_depth = Some(self.undo.len());
        // An edit coalescing with the one just saved is a new change.
        self.last_edit = None;
    }

    /// The document as it was a few edits ago was saved at `path`: it
    /// lives there now, and which edits are unsaved is no longer known.
    pub fn saved_earlier(&mut self, path: PathBuf) {
        self.path = Some(path);
        self.saved_depth = None;
    }

    /// What changed since the last load or save, oldest first: the edits
    /// made ("promotion", "add host web-03") and those undone ("undo
    /// rename"). Empty when unknown (the history no longer reaches back).
    pub fn unsaved_changes(&self) -> Vec<String> {
        if !self.dirty {
            return Vec::new();
        }
        match self.saved_depth {
            Some(d) if d <= self.undo.len() => {
                self.undo[d..].iter().map(|(l, _)| l.clone()).collect()
            }
            Some(d) => {
                let undone = d - self.undo.len();
                self.redo
                    .iter()
                    .rev()
                    .take(undone)
                    .map(|(l, _)| format!("undo {l}"))
                    .collect()
            }
            None => Vec::new(),
        }
    }

    /// The title for the window: file name (or topology name) and a mark
    /// when unsaved.
    pub fn title(&self) -> String {
        let name = self.path.as_ref().and_then(|p| p.file_name()).map_or_else(
            || self.topology.name.clone(),
            |n| n.to_string_lossy().into_owned(),
        );
        format!("{}{} — topolab", if self.dirty { "● " } else { "" }, name)
    }
}

/// What the app shows about a design: its problems, and when it has none,
/// its design review and the files it generates.
#[derive(Clone, Debug, Default)]
pub struct Analysis {
    /// Why the design cannot run.
    pub problems: Vec<Problem>,
    /// The design review of a valid design.
    pub findings: Vec<Finding>,
    /// The generated files of a valid design, with placeholder secrets.
    pub preview: Option<Artifacts>,
}

impl Analysis {
    /// Validates `t`; reviews and generates it when it is valid.
    pub fn of(t: &Topology) -> Self {
        let problems = validate(t);
        if !problems.is_empty() {
            return Self {
                problems,
                ..Self::default()
            };
        }
        Self {
            problems,
            findings: review(t),
            preview: crate::generate::generate(t, &Settings::for_topology(t), &preview_secrets())
                .ok(),
        }
    }
}

/// Secrets shown in previews: placeholders, never a lab's real ones.
fn preview_secrets() -> Secrets {
    let hidden = || "<secret: see .env>".to_owned();
    Secrets {
        db_root_password: hidden(),
        app_password: hidden(),
        replication_password: hidden(),
        monitor_password: hidden(),
        stats_password: hidden(),
        admin_token: hidden(),
        tls_cert_pem: "<the lab's certificate, made at launch>\n".to_owned(),
        tls_key_pem: hidden(),
    }
}

/// A design to analyse, numbered by its generation.
struct Job {
    generation: u64,
    topology: Arc<Topology>,
}

/// A finished analysis of generation `generation`.
struct Done {
    generation: u64,
    analysis: Analysis,
}

/// Keeps the analysis of the document current without running it on the
/// UI thread: each change of the design (not a mere move of hosts on the
/// canvas) starts a new generation, sent to a worker thread; the worker
/// analyses only the newest design it has been sent, and a result is taken
/// only when it is of the newest generation, so a stale one never shows.
pub struct Analyser {
    worker: Option<(mpsc::Sender<Job>, mpsc::Receiver<Done>)>,
    /// The document revision last looked at.
    seen_revision: Option<u64>,
    /// The design of the newest generation.
    design: Option<Arc<Topology>>,
    generation: u64,
    /// The generation the shown analysis belongs to.
    shown: Option<u64>,
    started: u64,
}

impl Analyser {
    /// Analyses on the calling thread, at once (tests, and no runtime).
    pub fn inline() -> Self {
        Self {
            worker: None,
            seen_revision: None,
            design: None,
            generation: 0,
            shown: None,
            started: 0,
        }
    }

    /// Analyses on a worker thread of its own; `wake` is called after each
    /// result, from that thread (the app asks for a repaint there). The
    /// thread ends when the analyser is dropped.
    pub fn background(wake: impl Fn() + Send + 'static) -> std::io::Result<Self> {
        let (jobs_tx, jobs) = mpsc::channel::<Job>();
        let (done_tx, done) = mpsc::channel();
        std::thread::Builder::new()
            .name("topolab-analysis".to_owned())
            .spawn(move || {
                while let Ok(mut job) = jobs.recv() {
                    // Only the newest design matters: skip those it replaced.
                    while let Ok(newer) = jobs.try_recv() {
                        job = newer;
                    }
                    let analysis = Analysis::of(&job.topology);
                    let done = Done {
                        generation: job.generation,
                        analysis,
                    };
                    if done_tx.send(done).is_err() {
                        return;
                    }
                    wake();
                }
            })?;
        Ok(Self {
            worker: Some((jobs_tx, done)),
            ..Self::inline()
        })
    }

    /// Starts analysing the document when its design changed since the
    /// last call, and returns a finished analysis of the newest design when
    /// one is ready. Never waits.
    pub fn update(&mut self, doc: &Document) -> Option<Analysis> {
        let mut ready = None;
        if self.seen_revision != Some(doc.revision()) {
            self.seen_revision = Some(doc.revision());
            let t = doc.topology();
            let moved_only = self
                .design
                .as_deref()
                .is_some_and(|d| differs_only_in_places(d, t));
            if !moved_only {
                self.generation += 1;
                self.started += 1;
                let topology = Arc::new(t.clone());
                self.design = Some(Arc::clone(&topology));
                match &self.worker {
                    Some((jobs, _)) => {
                        let job = Job {
                            generation: self.generation,
                            topology,
                        };
                        if jobs.send(job).is_err() {
                            // The worker is gone (it panicked): analyse here.
                            self.worker = None;
                            ready = Some(Analysis::of(t));
                            self.shown = Some(self.generation);
                        }
                    }
                    None => {
                        ready = Some(Analysis::of(t));
                        self.shown = Some(self.generation);
                    }
                }
            }
        }
        if let Some((_, results)) = &self.worker {
            while let Ok(done) = results.try_recv() {
                if done.generation == self.generation {
                    self.shown = Some(done.generation);
                    ready = Some(done.analysis);
                }
            }
        }
        ready
    }

    /// Whether the shown analysis is not yet that of the current design.
    pub fn pending(&self) -> bool {
        self.shown != Some(self.generation)
    }

    /// How many analyses were started (a move on the canvas starts none).
    pub fn started(&self) -> u64 {
        self.started
    }
}

/// Whether `a` and `b` are the same design and differ at most in where
/// hosts are drawn, all of them at finite places (validation checks
/// those). Every field is named, so a new one cannot be forgotten here.
fn differs_only_in_places(a: &Topology, b: &Topology) -> bool {
    let Topology {
        version,
        name,
        description,
        domain,
        databases,
        security,
        monitoring,
        dns,
        wan,
        hosts,
    } = a;
    *version == b.version
        && *name == b.name
        && *description == b.description
        && *domain == b.domain
        && *databases == b.databases
        && *security == b.security
        && *monitoring == b.monitoring
        && *dns == b.dns
        && *wan == b.wan
        && hosts.len() == b.hosts.len()
        && hosts
            .iter()
            .zip(&b.hosts)
            .all(|(x, y)| same_host_elsewhere(x, y))
}

fn same_host_elsewhere(a: &Host, b: &Host) -> bool {
    let Host {
        name,
        region,
        position,
        components,
        size,
    } = a;
    let finite =
        |p: &Option<crate::model::Position>| p.is_none_or(|p| p.x.is_finite() && p.y.is_finite());
    *name == b.name
        && *region == b.region
        && *components == b.components
        && *size == b.size
        && finite(position)
        && finite(&b.position)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edit_is_named_without_its_serial() {
        assert_eq!(
            label("change web-01's components #12"),
            "change web-01's components"
        );
        assert_eq!(label("add host web-03"), "add host web-03");
        assert_eq!(label("fix: Enable TLS"), "fix: Enable TLS");
        assert_eq!(label("move #tag x"), "move #tag x");
        let mut d = Document::new(Topology::new("a"));
        d.modify("rename #1", |t| t.name = "b".into());
        assert_eq!(d.undo_label(), Some("rename"));
        assert_eq!(d.undo().as_deref(), Some("rename"));
        assert_eq!(d.redo_label(), Some("rename"));
        assert_eq!(d.undo_label(), None);
    }

    #[test]
    fn edits_undo_and_redo() {
        let mut d = Document::new(Topology::new("a"));
        d.modify("rename", |t| t.name = "b".into());
        d.modify("domain", |t| t.domain = "x.example".into());
        assert!(d.dirty);
        d.undo();
        assert_eq!(d.topology().domain, "www.foobar.com");
        d.undo();
        assert_eq!(d.topology().name, "a");
        assert!(!d.can_undo());
        d.redo();
        assert_eq!(d.topology().name, "b");
        d.modify("other", |t| t.name = "c".into());
        assert!(!d.can_redo(), "a new edit clears redo");
    }

    #[test]
    fn a_run_of_same_key_edits_is_one_step() {
        let mut d = Document::new(Topology::new("a"));
        for name in ["b", "bc", "bcd"] {
            d.modify("rename", |t| t.name = name.into());
        }
        d.undo();
        assert_eq!(d.topology().name, "a");
    }

    #[test]
    fn an_edit_that_changes_nothing_is_not_recorded() {
        let mut d = Document::new(Topology::new("a"));
        d.modify("noop", |_| {});
        assert!(!d.can_undo());
        assert!(!d.dirty);
    }

    fn reference() -> Topology {
        crate::preset::Preset::find("reference")
            .and_then(|p| p.topology().ok())
            .expect("reference")
    }

    /// Calls `update` until the background result arrives (bounded, so a
    /// broken worker fails the test instead of hanging it).
    fn settle(analyser: &mut Analyser, doc: &Document) -> Option<Analysis> {
        for _ in 0..2000 {
            if let Some(a) = analyser.update(doc) {
                return Some(a);
            }
            if !analyser.pending() {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    }

    #[test]
    fn the_worker_analyses_each_design_and_moves_start_nothing() {
        let mut doc = Document::new(reference());
        let mut analyser = Analyser::background(|| {}).expect("thread");
        let first = settle(&mut analyser, &doc).expect("an analysis");
        assert_eq!(first.problems, vec![]);
        assert!(!first.findings.is_empty());
        assert!(first.preview.is_some());
        assert_eq!(analyser.started(), 1);

        // Moving hosts is no new design: nothing is started, nothing pends.
        for step in 0..20 {
            doc.modify("move web-01", |t| {
                t.hosts[1].position = Some(crate::model::Position {
                    x: step as f32,
                    y: 3.0,
                });
            });
            assert!(analyser.update(&doc).is_none());
        }
        assert_eq!(analyser.started(), 1);
        assert!(!analyser.pending());

        // A real change is analysed; of two changes in a row, only the
        // newest one's result is taken, even when the older one finishes.
        doc.modify("domain", |t| t.domain = "Bad..example".to_owned());
        let _ = analyser.update(&doc);
        doc.modify("domain", |t| t.domain = "example.org".to_owned());
        let after = settle(&mut analyser, &doc).expect("an analysis");
        assert_eq!(analyser.started(), 3);
        assert_eq!(
            after.problems,
            vec![],
            "the older, invalid design's result was shown"
        );
        let preview = after.preview.expect("a valid design has a preview");
        assert!(
            preview
                .get("web-01/nginx.conf")
                .is_some_and(|c| c.contains("example.org"))
        );
        assert!(!analyser.pending());
    }

    #[test]
    fn a_move_to_an_unusable_place_is_analysed() {
        let mut doc = Document::new(reference());
        let mut analyser = Analyser::inline();
        assert!(analyser.update(&doc).is_some());
        doc.modify("move", |t| {
            t.hosts[0].position = Some(crate::model::Position {
                x: f32::NAN,
                y: 0.0,
            });
        });
        let a = analyser.update(&doc).expect("analysed at once");
        assert!(a.problems.iter().any(|p| p.message.contains("finite")));
    }

    #[test]
    fn the_changes_since_the_save_are_named() {
        let mut d = Document::new(Topology::new("t"));
        assert!(d.unsaved_changes().is_empty());
        d.modify("promotion", |t| t.description = "promoted".into());
        d.modify("add host #1", |t| t.description = "added".into());
        assert_eq!(d.unsaved_changes(), ["promotion", "add host"]);
        d.saved(PathBuf::from("t.ron"));
        assert!(d.unsaved_changes().is_empty());
        d.modify("rename", |t| t.description = "renamed".into());
        assert_eq!(d.unsaved_changes(), ["rename"]);
        // Undone back past the save: what the undo took away; redone to
        // where it was saved: nothing to save.
        d.undo();
        assert!(!d.dirty);
        d.undo();
        assert_eq!(d.unsaved_changes(), ["undo add host"]);
        d.redo();
        assert!(!d.dirty);
        assert!(d.unsaved_changes().is_empty());
        d.undo();
        // An edit there drops the branch the save was on: unknown.
        d.modify("move", |t| t.description = "moved".into());
        assert!(d.dirty);
        assert!(d.unsaved_changes().is_empty());
    }
}
