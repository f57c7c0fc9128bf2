//! The engines a lab may span: each one reached, asked what it is in its
//! swarm, how much memory it has and which of the lab's images it lacks;
//! what is missing for them to carry one lab together; and the images
//! copied to those that lack them (`docker save | docker load` through the
//! engines' APIs, never a registry).

use std::str::FromStr;

use super::docker::{DockerError, Engine, SwarmRole};
use super::state::LabState;
use crate::placement::{EngineSpec, Placement};

/// An engine given on the command line: `NAME=URL`, or `NAME@REGION=URL`
/// for an engine that stands for a region of the design.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EngineRef {
    /// Its name in topolab's output and placement.
    pub name: String,
    /// The region it stands for, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Where its API answers (`unix:///var/run/docker.sock`, `tcp://HOST:2375`).
    pub url: String,
}

impl FromStr for EngineRef {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (who, url) = s
            .split_once('=')
            .ok_or_else(|| format!("\"{s}\" is not NAME=URL (or NAME@REGION=URL)"))?;
        let (name, region) = match who.split_once('@') {
            Some((n, r)) => (n, Some(r.to_owned())),
            None => (who, None),
        };
        let label = |w: &str| {
            !w.is_empty()
                && w.len() <= 63
                && w.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        };
        if !label(name) || region.as_deref().is_some_and(|r| !label(r)) {
            return Err(format!(
                "\"{who}\": an engine's name and region are lowercase letters, digits and '-'"
            ));
        }
        if !(url.starts_with("unix://") || url.starts_with("tcp://")) {
            return Err(format!(
                "\"{url}\": an engine's URL is unix:///PATH or tcp://HOST:PORT"
            ));
        }
        Ok(Self {
            name: name.to_owned(),
            region,
            url: url.to_owned(),
        })
    }
}

/// The engines a lab runs on, as its state records them (see
/// [`connect_span`]); a lab on one engine uses `DOCKER_HOST`'s.
pub async fn connect_lab(state: &LabState) -> Result<Engine, DockerError> {
    if state.engines.is_empty() {
        Engine::connect().await
    } else {
        connect_span(&state.lab, &state.engines, &state.placement).await
    }
}

/// One engine for lab `lab` over `engines`: the first is its home, the
/// others run the hosts `placement` puts on them. An engine other than the
/// home one that does not answer now is kept (its hosts show as
/// unreachable); the home engine must answer.
pub async fn connect_span(
    lab: &str,
    engines: &[EngineRef],
    placement: &Placement,
) -> Result<Engine, DockerError> {
    let Some((home, others)) = engines.split_first() else {
        return Engine::connect().await;
    };
    let engine = Engine::connect_to(&home.url).await.map_err(|e| {
        DockerError::Unreachable(format!("engine {} (the lab's home): {e}", home.name))
    })?;
    let mut clients = Vec::new();
    let mut lost = std::collections::BTreeSet::new();
    for e in others {
        let client = match Engine::connect_to(&e.url).await {
            Ok(c) => c,
            Err(why) => {
                tracing::warn!(engine = %e.name, error = %why, "an engine of the lab does not answer");
                lost.insert(e.name.clone());
                Engine::unchecked(&e.url)?
            }
        };
        clients.push((e.name.clone(), client));
    }
    let engine = engine.spanning(&home.name, clients, &prefixes(lab, placement));
    engine.set_unreachable(lost);
    Ok(engine)
}

/// What an engine over several routes by: each host's resource name
/// prefix (its holder's name) and its engine.
pub fn prefixes(lab: &str, placement: &Placement) -> Vec<(String, String)> {
    placement
        .iter()
        .map(|(host, engine)| (super::names::holder(lab, host), engine.clone()))
        .collect()
}

/// The engine of lab `lab`: the engines its state records when it spans
/// several, else `DOCKER_HOST`'s (also for a lab this machine has no state
/// of).
pub async fn for_lab(lab: &str) -> Result<Engine, super::launch::LabError> {
    match LabState::load(lab)? {
        Some(state) if !state.engines.is_empty() => Ok(connect_lab(&state).await?),
        _ => Ok(Engine::connect().await?),
    }
}

/// The engines of an engines file: one `NAME=URL` (or `NAME@REGION=URL`)
/// a line; blank lines and what follows `#` are skipped. An error names
/// the line.
pub fn parse_engines_file(text: &str) -> Result<Vec<EngineRef>, String> {
    let mut engines = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        engines.push(line.parse().map_err(|e| format!("line {}: {e}", i + 1))?);
    }
    if engines.is_empty() {
        return Err("names no engine".to_owned());
    }
    Ok(engines)
}

/// What one engine said.
#[derive(Clone, Debug)]
pub struct Survey {
    /// The engine.
    pub engine: EngineRef,
    /// What it is, or why it could not be asked.
    pub found: Result<Found, String>,
}

/// An engine that answered.
#[derive(Clone, Debug)]
pub struct Found {
    /// Docker's version.
    pub version: String,
    /// What it is in its swarm.
    pub swarm: SwarmRole,
    /// Its memory, in MiB.
    pub memory_mib: u64,
    /// The lab's images it lacks.
    pub missing: Vec<String>,
    /// The nodes of its swarm, when it is a manager.
    pub nodes: Vec<String>,
    /// What tells the engine from others (the same engine reached by two
    /// URLs has one).
    pub id: String,
}

/// Asks every engine, one after the other, what it is.
pub async fn survey(engines: &[EngineRef], images: &[String]) -> Vec<Survey> {
    let mut out = Vec::new();
    for engine in engines {
        let found = ask(engine, images).await.map_err(|e| e.to_string());
        out.push(Survey {
            engine: engine.clone(),
            found,
        });
    }
    out
}

async fn ask(engine: &EngineRef, images: &[String]) -> Result<Found, DockerError> {
    let docker = Engine::connect_to(&engine.url).await?;
    let version = docker.version().await?;
    let swarm = docker.swarm().await?;
    let id = docker.identity().await?;
    let (_, _, memory) = docker.resources().await?;
    let mut missing = Vec::new();
    for image in images {
        if docker.image_labels(image).await?.is_none() {
            missing.push(image.clone());
        }
    }
    let nodes = if swarm.manager {
        docker.swarm_nodes().await?
    } else {
        Vec::new()
    };
    Ok(Found {
        version,
        swarm,
        memory_mib: memory / (1024 * 1024),
        missing,
        nodes,
        id,
    })
}

/// What keeps these engines from carrying one lab, each with what to do.
pub fn problems(surveys: &[Survey]) -> Vec<String> {
    let mut out = Vec::new();
    for s in surveys {
        match &s.found {
            Err(why) => out.push(format!("{} does not answer: {why}", s.engine.name)),
            Ok(f) if f.swarm.state != "active" => out.push(format!(
                "{} is not in a swarm ({}): `docker swarm init` on one engine, then \
                 `docker swarm join` on the others with the token it prints",
                s.engine.name, f.swarm.state
            )),
            Ok(_) => {}
        }
    }
    let found: Vec<(&Survey, &Found)> = surveys
        .iter()
        .filter_map(|s| s.found.as_ref().ok().map(|f| (s, f)))
        .filter(|(_, f)| f.swarm.state == "active")
        .collect();
    if !found.is_empty() {
        match found.iter().find(|(_, f)| f.swarm.manager) {
            None => out.push(
                "none of the engines manages the swarm: give a manager too (it creates the \
                 lab's overlay networks)"
                    .to_owned(),
            ),
            Some((manager, m)) => {
                for (s, f) in &found {
                    if !m.nodes.contains(&f.swarm.node_id) {
                        out.push(format!(
                            "{} is in another swarm than {}: join it to {}'s swarm",
                            s.engine.name, manager.engine.name, manager.engine.name
                        ));
                    }
                }
            }
        }
    }
    for (i, s) in found.iter().enumerate() {
        if let Some((o, _)) = found[..i]
            .iter()
            .find(|(_, f)| !f.id.is_empty() && f.id == s.1.id)
        {
            out.push(format!(
                "{} and {} are the same engine: give each engine once",
                o.engine.name, s.0.engine.name
            ));
        }
    }
    let mut names: Vec<&str> = surveys.iter().map(|s| s.engine.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        out.push(format!("two engines are named {}", w[0]));
    }
    for s in surveys {
        if let Ok(f) = &s.found
            && !f.missing.is_empty()
        {
            out.push(format!(
                "{} lacks {}: --copy-images copies them from an engine that has them",
                s.engine.name,
                f.missing.join(", ")
            ));
        }
    }
    out
}

/// The engines that answered, for placement.
pub fn specs(surveys: &[Survey]) -> Vec<EngineSpec> {
    surveys
        .iter()
        .filter_map(|s| {
            s.found.as_ref().ok().map(|f| EngineSpec {
                name: s.engine.name.clone(),
                region: s.engine.region.clone(),
                memory_mib: f.memory_mib,
            })
        })
        .collect()
}

/// Copies each image an engine lacks from the first engine that has it;
/// says what it copied. Fails on the first copy that fails.
pub async fn copy_images(
    surveys: &[Survey],
    report: &dyn Fn(String),
) -> Result<usize, DockerError> {
    let mut copied = 0;
    for s in surveys {
        let Ok(f) = &s.found else { continue };
        for image in &f.missing {
            let Some(from) = surveys
                .iter()
                .find(|o| o.found.as_ref().is_ok_and(|of| !of.missing.contains(image)))
            else {
                report(format!(
                    "no engine has {image}: `topolab images build` makes it"
                ));
                continue;
            };
            report(format!(
                "copying {image} from {} to {}",
                from.engine.name, s.engine.name
            ));
            let source = Engine::connect_to(&from.engine.url).await?;
            let target = Engine::connect_to(&s.engine.url).await?;
            source.copy_image_to(&target, image).await?;
            copied += 1;
        }
    }
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(state: &str, manager: bool, node: &str, nodes: &[&str], missing: &[&str]) -> Found {
        Found {
            version: "20.10".to_owned(),
            swarm: SwarmRole {
                state: state.to_owned(),
                manager,
                node_id: node.to_owned(),
            },
            memory_mib: 4096,
            missing: missing.iter().map(|s| (*s).to_owned()).collect(),
            nodes: nodes.iter().map(|s| (*s).to_owned()).collect(),
            id: format!("engine-{node}"),
        }
    }

    fn survey(name: &str, found: Result<Found, String>) -> Survey {
        Survey {
            engine: format!("{name}=unix:///run/{name}.sock")
                .parse()
                .expect("valid"),
            found,
        }
    }

    #[test]
    fn engine_arguments_name_the_engine_its_region_and_its_url() {
        let e: EngineRef = "eu-1@eu=tcp://10.0.0.5:2375".parse().expect("valid");
        assert_eq!(
            e,
            EngineRef {
                name: "eu-1".to_owned(),
                region: Some("eu".to_owned()),
                url: "tcp://10.0.0.5:2375".to_owned()
            }
        );
        for bad in [
            "a",
            "A=unix:///x",
            "a=ssh://host",
            "a@=unix:///x",
            "=unix:///x",
        ] {
            assert!(bad.parse::<EngineRef>().is_err(), "{bad}");
        }
    }

    #[test]
    fn an_engines_file_names_one_engine_a_line() {
        let text = "# the class's machines\n\na=unix:///var/run/docker.sock\n  b@eu=tcp://10.0.0.7:2375  # the lab room\n";
        let engines = parse_engines_file(text).expect("valid");
        assert_eq!(
            engines.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(engines[1].region.as_deref(), Some("eu"));
        assert_eq!(engines[1].url, "tcp://10.0.0.7:2375");
        let bad = parse_engines_file("a=unix:///x\nb=ssh://host\n").expect_err("refused");
        assert!(bad.starts_with("line 2:"), "{bad}");
        assert!(parse_engines_file("# nothing\n").is_err());
    }

    #[test]
    fn what_is_missing_is_said_with_what_to_do() {
        struct Case {
            what: &'static str,
            surveys: Vec<Survey>,
            want: Vec<&'static str>,
        }
        let cases = [
            Case {
                what: "a manager and its worker, images everywhere",
                surveys: vec![
                    survey("a", Ok(found("active", true, "n1", &["n1", "n2"], &[]))),
                    survey("b", Ok(found("active", false, "n2", &[], &[]))),
                ],
                want: vec![],
            },
            Case {
                what: "an engine down, another outside any swarm",
                surveys: vec![
                    survey("a", Err("connection refused".to_owned())),
                    survey("b", Ok(found("inactive", false, "", &[], &[]))),
                ],
                want: vec!["a does not answer", "b is not in a swarm (inactive)"],
            },
            Case {
                what: "one engine given twice",
                surveys: vec![
                    survey("a", Ok(found("active", true, "n1", &["n1"], &[]))),
                    survey("b", Ok(found("active", true, "n1", &["n1"], &[]))),
                ],
                want: vec!["a and b are the same engine"],
            },
            Case {
                what: "workers only",
                surveys: vec![survey("b", Ok(found("active", false, "n2", &[], &[])))],
                want: vec!["none of the engines manages the swarm"],
            },
            Case {
                what: "two swarms, and missing images",
                surveys: vec![
                    survey("a", Ok(found("active", true, "n1", &["n1"], &[]))),
                    survey("b", Ok(found("active", true, "x9", &["x9"], &["base"]))),
                ],
                want: vec!["b is in another swarm than a", "b lacks base"],
            },
        ];
        for case in cases {
            let got = problems(&case.surveys);
            assert_eq!(got.len(), case.want.len(), "{}: {got:?}", case.what);
            for (g, w) in got.iter().zip(&case.want) {
                assert!(g.starts_with(w), "{}: {g} (wanted {w}...)", case.what);
            }
        }
    }
}
