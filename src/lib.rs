//! topolab: design a distributed web infrastructure (HAProxy, Nginx, an
//! application server, MySQL replication), generate every config file, and
//! run it as a live lab.
//!
//! Arrows point one way (ARCHITECTURE.md draws them):
//! `cli -> ui -> protocol`, `ui -> lab::actor -> lab -> generate -> model`,
//! `lab -> protocol`, `live/stopwatch/scenario/gtid -> model`. The pure
//! layers (`model`, `generate`, `protocol`, `live`, `stopwatch`, `scenario`,
//! `gtid`) use no egui, bollard or tokio; CI checks it.

// Printing to a closed stdout (`topolab check reference | head -1`) is not
// an error worth a panic: these shadow std's `print!`/`println!` for the
// whole crate and drop what cannot be written.
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::write_stdout(format_args!($($arg)*), false)
    };
}

macro_rules! println {
    () => {
        $crate::write_stdout(format_args!(""), true)
    };
    ($($arg:tt)*) => {
        $crate::write_stdout(format_args!($($arg)*), true)
    };
}

/// Locks `mutex`, recovering the data when a thread panicked while holding
/// it: what was kept (traces, live state) is still worth showing, and a
/// poisoned lock must not silently drop every later update.
pub(crate) fn locked<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Writes to stdout, ignoring a closed pipe.
fn write_stdout(args: std::fmt::Arguments<'_>, newline: bool) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_fmt(args);
    if newline {
        let _ = out.write_all(b"\n");
    }
}

pub mod appserver;
pub mod capacity;
pub mod change;
pub mod cli;
pub mod consistency;
pub mod deploy;
pub mod export;
pub mod failover;
pub mod generate;
pub mod gtid;
pub mod lab;
pub mod live;
pub mod model;
pub mod placement;
pub mod preset;
pub mod protocol;
pub mod scenario;
pub mod stopwatch;
pub mod ui;

mod fsutil;
