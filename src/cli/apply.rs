//! `topolab apply LAB FILE`: prints the plan, refuses what it must, and
//! carries the rest out with each action's progress and time.

use std::path::PathBuf;
use std::process::ExitCode;

use tokio_util::sync::CancellationToken;

use crate::change::{ChangePlan, Impact};
use crate::model::Topology;
use crate::protocol::ApplyProgress;

/// What `apply` was asked to do.
pub struct ApplyOptions {
    /// Print the plan only.
    pub dry_run: bool,
    /// Destructive actions are confirmed.
    pub yes: bool,
    /// Print each step's command.
    pub explain: bool,
    /// Write the report here too.
    pub report: Option<PathBuf>,
}

/// Prints the plan, one line per action.
fn print_plan(plan: &ChangePlan) {
    for note in &plan.notes {
        println!("note: {note}");
    }
    if plan.is_empty() {
        println!("no changes: the lab runs this design already");
        return;
    }
    for (i, a) in plan.actions.iter().enumerate() {
        println!("{:>3}. [{}] {}", i + 1, a.impact, a.summary);
        println!("        {}", a.why);
    }
    if !plan.relaunch.is_empty() {
        println!("cannot be applied to a running lab (relaunch it instead):");
        for r in &plan.relaunch {
            println!("  - {r}");
        }
    }
}

/// Prints an apply's or a deploy's progress: each action (with its impact
/// when `impacts`), its time, its notes, and with `explain` its commands.
pub(super) fn printer(explain: bool, impacts: bool) -> impl Fn(ApplyProgress) + Sync {
    move |p: ApplyProgress| match p {
        ApplyProgress::Started {
            index,
            summary,
            impact,
        } => {
            if impacts {
                println!("→ {}. [{impact}] {summary}", index + 1);
            } else {
                println!("→ {}. {summary}", index + 1);
            }
        }
        ApplyProgress::Finished { index, took } => {
            println!("  {}. done in {:.2} s", index + 1, took.as_secs_f64());
        }
        ApplyProgress::Note(text) => println!("    {text}"),
        ApplyProgress::Explain(cmd) => {
            if explain {
                println!("    $ {cmd}");
            }
        }
    }
}

/// `topolab apply`: exit 0 when applied (or nothing to do, or a dry run),
/// 1 when refused.
pub async fn apply(
    lab: String,
    topology: Topology,
    options: ApplyOptions,
) -> anyhow::Result<ExitCode> {
    let state = super::lab::require_state(&lab)?;
    let plan = match crate::lab::apply::plan_for(&state, &topology) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("topolab: {e}: nothing applied");
            return Ok(ExitCode::from(1));
        }
    };
    print_plan(&plan);
    if !plan.relaunch.is_empty() {
        eprintln!(
            "topolab: refused: relaunch with `topolab down {lab}` and `topolab up FILE --name {lab}`"
        );
        return Ok(ExitCode::from(1));
    }
    let destructive = plan.destructive().count();
    if options.dry_run {
        if destructive > 0 {
            println!("{destructive} destructive action(s): applying them needs --yes");
        }
        return Ok(ExitCode::SUCCESS);
    }
    if destructive > 0 && !options.yes {
        for a in plan.destructive() {
            eprintln!("topolab: {}: {}", a.summary, a.why);
        }
        eprintln!("topolab: refused: {destructive} destructive action(s); pass --yes to go ahead");
        return Ok(ExitCode::from(1));
    }
    let engine = crate::lab::engines::for_lab(&lab).await?;
    let cancel = CancellationToken::new();
    let on_ctrl_c = cancel.clone();
    let watcher = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\nstopping after the current action (Ctrl-C again to quit at once)...");
            on_ctrl_c.cancel();
        }
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("quitting: the lab's record matches what runs; apply again to finish");
            std::process::exit(130);
        }
    });
    let report = printer(options.explain, true);
    if plan.actions.is_empty() {
        // Only what the record holds (order, positions): nothing to run.
        crate::lab::apply::apply(&engine, &lab, &topology, options.yes, &cancel, &report).await?;
        watcher.abort();
        return Ok(ExitCode::SUCCESS);
    }
    println!("applying {} action(s) to lab {lab}", plan.actions.len());
    let result =
        crate::lab::apply::apply(&engine, &lab, &topology, options.yes, &cancel, &report).await;
    watcher.abort();
    let applied = result?;
    let total: f64 = applied.took.iter().map(|d| d.as_secs_f64()).sum();
    let worst = applied
        .plan
        .actions
        .iter()
        .map(|a| a.impact)
        .max()
        .unwrap_or(Impact::Hitless);
    println!(
        "applied {} action(s) in {total:.2} s (at most {worst})",
        applied.took.len()
    );
    if let Some(path) = options.report {
        let text = applied.plan.markdown(&lab, &applied.took);
        crate::fsutil::write_atomic(&path, text.as_bytes())
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        println!("report written to {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
