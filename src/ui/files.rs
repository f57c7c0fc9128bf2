//! File work off the UI thread: the system's file dialog, reading,
//! writing and exporting a design, and the recent-files list. Each job
//! runs on the runtime's blocking pool (inline where there is no runtime,
//! as in tests) and answers with a [`FileEvent`] the app drains each frame.

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::generate::{Secrets, Settings};
use crate::model::Topology;
use crate::preset;

/// Recent files kept.
const RECENT_MAX: usize = 10;

/// What an exported bundle runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportTarget {
    /// docker-compose.yml, .env and the configs.
    Compose,
    /// Kubernetes manifests (a pod per host).
    Kubernetes,
}

impl ExportTarget {
    /// The folder made for the design `name` (inside the one chosen).
    pub fn folder(self, name: &str) -> String {
        match self {
            Self::Compose => name.to_owned(),
            Self::Kubernetes => format!("{name}-kubernetes"),
        }
    }
}

/// What a file dialog or the path field is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathPurpose {
    /// Open a topology.
    Open,
    /// Save the topology.
    Save,
    /// Export the configs into a folder: a docker-compose bundle, or
    /// Kubernetes manifests.
    Export(ExportTarget),
    /// Export the design's diagram as an image file.
    Diagram(DiagramFormat),
    /// Save a lab report (Markdown).
    Report,
    /// Save the history of writes and probes (JSON Lines).
    History,
}

impl PathPurpose {
    /// For a save to a file: the kind of file (the dialog's filter) and its
    /// extension; None for an open or a folder.
    pub fn file_kind(self) -> Option<(&'static str, &'static str)> {
        match self {
            Self::Save => Some(("topology", "ron")),
            Self::Report => Some(("Markdown", "md")),
            Self::History => Some(("JSON Lines", "jsonl")),
            Self::Diagram(format) => Some((format.extension(), format.extension())),
            Self::Open | Self::Export(_) => None,
        }
    }

    /// The file name a save proposes for the design `design`
    /// (`NAME.ron`, `NAME-report.md`, `NAME-history.jsonl`, `NAME.svg`).
    pub fn file_name(self, design: &str) -> Option<String> {
        let (_, ext) = self.file_kind()?;
        Some(match self {
            Self::Report => format!("{design}-report.{ext}"),
            Self::History => format!("{design}-history.{ext}"),
            _ => format!("{design}.{ext}"),
        })
    }
}

/// The image formats the diagram is exported in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiagramFormat {
    /// Vector, for slides and the web.
    Svg,
    /// Pixels, twice the canvas's size.
    Png,
}

impl DiagramFormat {
    /// The file extension (and the name in menus).
    pub fn extension(self) -> &'static str {
        match self {
            Self::Svg => "svg",
            Self::Png => "png",
        }
    }
}

/// File work that finished off the UI thread.
pub(super) enum FileEvent {
    /// A dialog's answer, and how long it took.
    Picked(PathPurpose, Option<PathBuf>, Duration),
    /// A file was read.
    Loaded(PathBuf, Result<Topology, preset::LoadError>),
    /// The document (at this revision) was written.
    Saved(PathBuf, u64, Result<(), String>),
    /// The configs were exported: the folder written, or why not.
    Exported(Result<PathBuf, String>),
    /// A diagram, a report or a history was written (which one): the
    /// file, or why not.
    Wrote(&'static str, Result<PathBuf, String>),
}

/// The app's file work: jobs out, their [`FileEvent`]s in.
pub struct FileJobs {
    tx: mpsc::Sender<FileEvent>,
    rx: mpsc::Receiver<FileEvent>,
    /// Runs the jobs (None: inline).
    runtime: Option<tokio::runtime::Handle>,
    /// Wakes the UI when a job finishes, known from the first frame.
    ctx: Option<egui::Context>,
    /// No file dialog service here: the path field asks instead.
    no_dialog: bool,
    /// Recently opened or saved files, newest first.
    pub recent: Vec<PathBuf>,
    /// Where the recent list is kept (None: not kept, e.g. in tests).
    recent_file: Option<PathBuf>,
    /// Where the settings are kept (None: not kept, e.g. in tests).
    settings_file: Option<PathBuf>,
}

impl FileJobs {
    /// Jobs run on `runtime` (None: inline, and no file dialog).
    pub(super) fn new(runtime: Option<tokio::runtime::Handle>) -> Self {
        let (tx, rx) = mpsc::channel();
        Self {
            tx,
            rx,
            no_dialog: runtime.is_none(),
            runtime,
            ctx: None,
            recent: Vec::new(),
            recent_file: None,
            settings_file: None,
        }
    }

    /// The context to wake when a job finishes.
    pub(super) fn wake(&mut self, ctx: &egui::Context) {
        if self.ctx.is_none() {
            self.ctx = Some(ctx.clone());
        }
    }

    /// A job's answer, when one came.
    pub(super) fn try_recv(&self) -> Option<FileEvent> {
        self.rx.try_recv().ok()
    }

    /// Keeps the recent-files list in `file` (and loads it now).
    pub(super) fn keep_recent_in(&mut self, file: PathBuf) {
        self.recent = std::fs::read_to_string(&file)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        self.recent_file = Some(file);
    }

    /// Keeps the settings in `file`; the settings kept there now.
    pub(super) fn keep_settings_in(&mut self, file: PathBuf) -> super::settings::Settings {
        let settings = super::settings::Settings::read(&file);
        self.settings_file = Some(file);
        settings
    }

    /// Keeps `settings` for the next session (in the background).
    pub(super) fn keep_settings(&self, settings: &super::settings::Settings) {
        if let (Some(file), Ok(json)) = (
            self.settings_file.clone(),
            serde_json::to_string_pretty(settings),
        ) {
            self.write_quietly(file, json);
        }
    }

    /// Writes a file the app keeps for itself, off the UI thread; settings
    /// that cannot be kept are no reason to bother the user.
    fn write_quietly(&self, file: PathBuf, text: String) {
        let write = move || {
            if let Some(dir) = file.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            let _ = crate::fsutil::write_atomic(&file, text.as_bytes());
        };
        match &self.runtime {
            Some(rt) => drop(rt.spawn_blocking(write)),
            None => write(),
        }
    }

    /// From now on the path field asks instead of the system's dialog.
    pub(super) fn without_dialog(&mut self) {
        self.no_dialog = true;
    }

    /// Opens the system's file dialog for `purpose` (a save proposes a
    /// file named after the design `design`); false when there is none to
    /// open, and the path field must ask.
    pub(super) fn dialog(&self, purpose: PathPurpose, ctx: &egui::Context, design: String) -> bool {
        let runtime = match (&self.runtime, self.no_dialog) {
            (Some(rt), false) => rt.clone(),
            _ => return false,
        };
        let tx = self.tx.clone();
        let ctx = ctx.clone();
        runtime.spawn(async move {
            let started = Instant::now();
            let dialog = rfd::AsyncFileDialog::new();
            let picked = match (purpose, purpose.file_kind()) {
                (PathPurpose::Open, _) => dialog.add_filter("topology", &["ron"]).pick_file().await,
                (_, Some((kind, ext))) => {
                    let name = purpose.file_name(&design).unwrap_or_default();
                    dialog
                        .add_filter(kind, &[ext])
                        .set_file_name(name)
                        .save_file()
                        .await
                }
                (_, None) => dialog.pick_folder().await,
            };
            let path = picked.map(|f| f.path().to_owned());
            let _ = tx.send(FileEvent::Picked(purpose, path, started.elapsed()));
            ctx.request_repaint();
        });
        true
    }

    /// Puts `path` first in the recent list, and keeps the list.
    pub(super) fn remember(&mut self, path: PathBuf) {
        self.recent.retain(|p| *p != path);
        self.recent.insert(0, path);
        self.recent.truncate(RECENT_MAX);
        if let (Some(file), Ok(json)) = (
            self.recent_file.clone(),
            serde_json::to_string_pretty(&self.recent),
        ) {
            self.write_quietly(file, json);
        }
    }

    /// Reads the topology at `path`.
    pub(super) fn open(&self, path: PathBuf) {
        self.background(move || {
            let result = preset::load_path(&path);
            FileEvent::Loaded(path, result)
        });
    }

    /// Writes `topology` (the document at `revision`) to `path`.
    pub(super) fn save(&self, topology: Topology, revision: u64, path: PathBuf) {
        self.background(move || {
            // A folder the user typed that does not exist yet is made (the
            // path field said so).
            if let Some(dir) = path
                .parent()
                .filter(|d| !d.as_os_str().is_empty() && !d.exists())
            {
                let _ = std::fs::create_dir_all(dir);
            }
            let result = preset::save_path(&topology, &path).map_err(|e| e.to_string());
            FileEvent::Saved(path, revision, result)
        });
    }

    /// Exports the configs of `t` for `to` into a new folder in `dir`.
    pub(super) fn export(&self, t: Topology, dir: PathBuf, to: ExportTarget) {
        self.background(move || {
            if !dir.exists() {
                let _ = std::fs::create_dir_all(&dir);
            }
            let target = dir.join(to.folder(&t.name));
            let result = Secrets::generate(&t.domain)
                .map_err(|e| e.to_string())
                .and_then(|secrets| {
                    // The local images carry MariaDB only: a MySQL design's
                    // bundle runs MariaDB in its place, as the lab does.
                    let mut settings = Settings::for_topology(&t);
                    settings.flavor = crate::model::Flavor::Mariadb;
                    match to {
                        ExportTarget::Compose => crate::generate::generate(&t, &settings, &secrets)
                            .map_err(|e| e.to_string()),
                        ExportTarget::Kubernetes => crate::generate::kube::generate(
                            &t,
                            &settings,
                            &secrets,
                            &crate::generate::kube::KubeOptions::default(),
                        )
                        .map_err(|e| e.to_string()),
                    }
                })
                .and_then(|files| {
                    if target.exists() {
                        Err(format!("{} exists already", target.display()))
                    } else {
                        crate::export::write_bundle(&files, &target).map_err(|e| e.to_string())
                    }
                })
                .map(|()| target);
            FileEvent::Exported(result)
        });
    }

    /// Draws the diagram of `t` as `format` into `path` (its folder made
    /// when missing; written whole or not at all).
    pub(super) fn diagram(&self, t: Topology, path: PathBuf, format: DiagramFormat) {
        // The name the user gave decides: `x.png` is a PNG whichever item
        // asked; a name without either extension gets the format's.
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let (path, format) = match ext.as_deref() {
            Some("svg") => (path, DiagramFormat::Svg),
            Some("png") => (path, DiagramFormat::Png),
            _ => {
                let mut named = path.into_os_string();
                named.push(".");
                named.push(format.extension());
                (PathBuf::from(named), format)
            }
        };
        self.background(move || {
            let bytes = match format {
                DiagramFormat::Svg => Ok(super::canvas::export::svg(&t).into_bytes()),
                DiagramFormat::Png => super::canvas::export::png(&t, 2.0),
            };
            let result = bytes.and_then(|bytes| write_whole(&path, &bytes));
            FileEvent::Wrote("the diagram", result.map(|()| path))
        });
    }

    /// Writes the lab report `text` to `path`.
    pub(super) fn report(&self, text: String, path: PathBuf) {
        self.background(move || {
            let result = write_whole(&path, text.as_bytes());
            FileEvent::Wrote("the report", result.map(|()| path))
        });
    }

    /// Writes the history `traces` to `path` as JSON Lines (made off the
    /// UI thread: a long history is large).
    pub(super) fn history(&self, traces: Vec<crate::live::RequestTrace>, path: PathBuf) {
        self.background(move || {
            let text = crate::consistency::to_json_lines(&traces);
            let result = write_whole(&path, text.as_bytes());
            FileEvent::Wrote("the history", result.map(|()| path))
        });
    }

    /// Runs file work on the runtime's blocking pool (inline where there is
    /// no runtime, as in tests); its result arrives as a [`FileEvent`].
    fn background(&self, job: impl FnOnce() -> FileEvent + Send + 'static) {
        let tx = self.tx.clone();
        match &self.runtime {
            Some(rt) => {
                let ctx = self.ctx.clone();
                rt.spawn_blocking(move || {
                    let _ = tx.send(job());
                    if let Some(ctx) = ctx {
                        ctx.request_repaint();
                    }
                });
            }
            None => {
                let _ = tx.send(job());
            }
        }
    }
}

/// Writes `bytes` to `path` whole or not at all, making its folder when
/// missing; the error names the path.
fn write_whole(path: &std::path::Path, bytes: &[u8]) -> Result<(), String> {
    if let Some(dir) = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty() && !d.exists())
    {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
    }
    crate::fsutil::write_atomic(path, bytes)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}
