//! The document: the topology being edited, where it lives on disk, and
//! its undo history. No egui here, so it is tested without a window.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::model::Topology;

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
    undo: Vec<Topology>,
    redo: Vec<Topology>,
    last_edit: Option<(String, Instant)>,
    revision: u64,
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
            self.undo
                .push(std::mem::replace(&mut self.topology, topology));
            if self.undo.len() > MAX_UNDO {
                self.undo.remove(0);
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
    }

    /// Whether there is something to undo.
    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    /// Whether there is something to redo.
    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    /// Undoes the last edit.
    pub fn undo(&mut self) {
        if let Some(previous) = self.undo.pop() {
            self.redo
                .push(std::mem::replace(&mut self.topology, previous));
            self.after_history_move();
        }
    }

    /// Redoes the last undone edit.
    pub fn redo(&mut self) {
        if let Some(next) = self.redo.pop() {
            self.undo.push(std::mem::replace(&mut self.topology, next));
            self.after_history_move();
        }
    }

    fn after_history_move(&mut self) {
        self.last_edit = None;
        self.dirty = true;
        self.revision += 1;
    }

    /// Marks the document saved at `path`.
    pub fn saved(&mut self, path: PathBuf) {
        self.path = Some(path);
        self.dirty = false;
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
