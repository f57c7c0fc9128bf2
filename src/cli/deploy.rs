//! Operations on a running lab: `topolab deploy LAB VERSION` prints the
//! plan, rolls the release out batch by batch with each step's progress,
//! and says how it ended; `topolab orchestrator LAB` fails over by itself.

use std::path::PathBuf;
use std::process::ExitCode;

use tokio_util::sync::CancellationToken;

use crate::deploy::{Request, RolledBack};
use crate::lab::deploy::{Outcome, Watch};

/// How `deploy` was asked to run.
pub struct DeployOptions {
    /// Print the plan only.
    pub dry_run: bool,
    /// Print each step's command.
    pub explain: bool,
    /// Write the report here too.
    pub report: Option<PathBuf>,
    /// The canary's error threshold, percent.
    pub max_error_percent: f64,
}

/// `topolab deploy`: exit 0 when every server runs the release (or a dry
/// run), 1 when refused or rolled back.
pub async fn deploy(
    lab: String,
    request: Request,
    options: DeployOptions,
) -> anyhow::Result<ExitCode> {
    let state = super::lab::require_state(&lab)?;
    if !(options.max_error_percent.is_finite()
        && (0.0..=100.0).contains(&options.max_error_percent))
    {
        eprintln!("topolab: --max-errors must be a percentage between 0 and 100");
        return Ok(ExitCode::from(1));
    }
    let plan = match crate::lab::deploy::plan_for(&state, &request) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("topolab: {e}: nothing deployed");
            return Ok(ExitCode::from(1));
        }
    };
    if plan.batches.is_empty() {
        println!("every application server runs {} already", plan.version);
        return Ok(ExitCode::SUCCESS);
    }
    println!("deploying {} to lab {lab}:", plan.version);
    println!("{}", plan.describe());
    if options.dry_run {
        return Ok(ExitCode::SUCCESS);
    }
    let engine = crate::lab::engines::for_lab(&lab).await?;
    let cancel = CancellationToken::new();
    let on_ctrl_c = cancel.clone();
    let watcher = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\nstopping after the current batch, then rolling back...");
            on_ctrl_c.cancel();
        }
    });
    let report = super::apply::printer(options.explain, false);
    let watch = Watch {
        max_error_percent: options.max_error_percent,
        ..Watch::default()
    };
    let result = crate::lab::deploy::deploy(&engine, &lab, &request, watch, &cancel, &report).await;
    watcher.abort();
    let deployed = result?;
    let rolled_back = match &deployed.outcome {
        Outcome::Completed => {
            println!(
                "deployed {} to {} host(s) in {:.2} s",
                deployed.plan.version,
                deployed
                    .plan
                    .batches
                    .iter()
                    .map(|b| b.hosts.len())
                    .sum::<usize>(),
                deployed.total.as_secs_f64()
            );
            None
        }
        Outcome::RolledBack { why, hosts } => {
            eprintln!(
                "topolab: deploy of {} stopped: {why}; rolled back {} host(s)",
                deployed.plan.version,
                hosts.len()
            );
            Some(RolledBack {
                why,
                hosts,
                took: deployed.rollback_took.unwrap_or_default(),
            })
        }
    };
    if let Some(path) = options.report {
        let text = crate::deploy::markdown(
            &lab,
            &deployed.plan,
            &deployed.took,
            rolled_back.as_ref(),
            deployed.total,
        );
        crate::fsutil::write_atomic(&path, text.as_bytes())
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        println!("report written to {}", path.display());
    }
    Ok(if rolled_back.is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `topolab orchestrator`: prints what the orchestrator sees and does;
/// exit 0 when stopped, 1 when the lab's failover is manual.
pub async fn orchestrator(lab: String, seconds: Option<f64>) -> anyhow::Result<ExitCode> {
    super::lab::require_state(&lab)?;
    if let Some(s) = seconds
        && !(s.is_finite() && s > 0.0)
    {
        eprintln!("topolab: --seconds must be a positive number");
        return Ok(ExitCode::from(1));
    }
    let engine = crate::lab::engines::for_lab(&lab).await?;
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        match seconds {
            Some(s) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    () = tokio::time::sleep(std::time::Duration::from_secs_f64(s)) => {}
                }
            }
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        stop.cancel();
    });
    let start = crate::live::now();
    let sink: crate::lab::orchestrator::NoteSink = std::sync::Arc::new(move |note| {
        println!(
            "{:>8.3} s  {}",
            note.at.saturating_sub(start) as f64 / 1000.0,
            note.text
        );
    });
    match crate::lab::orchestrator::run(engine, lab, cancel, sink).await {
        Ok(done) => {
            println!("orchestrator stopped after {} failover(s)", done.len());
            Ok(ExitCode::SUCCESS)
        }
        Err(crate::lab::error::LabError::Refused(why)) => {
            eprintln!("topolab: {why}");
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e.into()),
    }
}
