//! The design as a diagram for slides and notes: an SVG drawn from the
//! same graph the canvas draws (host boxes, components, links), laid out
//! as the canvas lays it out, in the light theme, with the clients above
//! the entry points and a legend below. PNG is that SVG rendered.

use std::collections::HashMap;
use std::fmt::Write as _;

use egui::{Color32, Pos2, Rect, Vec2};

use super::graph::{self, COMPONENT, LinkKind, Look, TITLE, kind_color};
use crate::model::{ComponentKind, Flavor, Subject, Topology};

/// Room around the drawing, in canvas units.
const MARGIN: f32 = 30.0;
/// Height of the title line, of a line of notes under it, and of the
/// clients' row above the hosts.
const TITLE_LINE: f32 = 32.0;
const NOTE_LINE: f32 = 18.0;
const CLIENTS: f32 = 70.0;
/// The colour of the clients and their links.
const CLIENT_LINK: Color32 = Color32::from_gray(90);
/// The colour of Prometheus and its scrapes.
const PROMETHEUS: Color32 = Color32::from_rgb(200, 80, 40);
/// Height of one legend row.
const LEGEND_ROW: f32 = 20.0;

/// The design drawn as a standalone SVG document.
pub fn svg(t: &Topology) -> String {
    let (g, index) = graph::build(t, &HashMap::new());
    let subjects: HashMap<_, _> = index.iter().map(|(s, n)| (*n, s)).collect();
    // Every box, in canvas units (the canvas's own layout).
    let mut hosts = Vec::new();
    let mut components = Vec::new();
    let mut boxes: HashMap<&Subject, Rect> = HashMap::new();
    for (n, node) in g.nodes_iter() {
        let Some(subject) = subjects.get(&n) else {
            continue;
        };
        match &node.payload().look {
            Look::Host { size, region } => {
                let r = Rect::from_center_size(node.location(), *size);
                hosts.push((*subject, r, region.clone()));
                boxes.insert(*subject, r);
            }
            Look::Component(kind) => {
                let r = Rect::from_center_size(node.location(), COMPONENT);
                components.push((*subject, r, *kind, node.payload().status.clone()));
                boxes.insert(*subject, r);
            }
        }
    }
    let drawn = boxes.values().copied().reduce(|a, b| a.union(b));
    let drawn = drawn.unwrap_or(Rect::from_min_size(Pos2::ZERO, Vec2::new(300.0, 100.0)));
    let component = |host: &crate::model::HostName, kind| {
        boxes
            .get(&Subject::Component(crate::model::ComponentId::new(
                host, kind,
            )))
            .copied()
    };
    let entries: Vec<Rect> = graph::client_entries(t)
        .iter()
        .filter_map(|id| component(&id.host, id.kind))
        .collect();
    let prometheus = t.monitoring.enabled.then(|| {
        Rect::from_center_size(
            Pos2::new(drawn.right() + 110.0, drawn.center().y),
            Vec2::new(120.0, 30.0),
        )
    });
    let legend = legend_rows(t, &g);
    let right = prometheus
        .map_or(drawn.right(), |p| p.right())
        .max(drawn.left() + 420.0)
        .max(drawn.left() + text_width(&t.name, 20.0));
    // The description, and the tier networks when the design has them,
    // wrapped to the drawing's width.
    let mut notes = wrap(&t.description, 12.0, right - drawn.left());
    if t.security.segmentation {
        notes.extend(wrap(
            "Networks: front (load balancers, Nginx) and back (apps, databases): the load balancers cannot reach the databases",
            12.0,
            right - drawn.left(),
        ));
    }
    let dns = t.load_balancers().count() > 1;
    let header = TITLE_LINE + NOTE_LINE * notes.len() as f32 + if dns { 26.0 } else { 0.0 };
    let top = drawn.top() - header - if entries.is_empty() { 0.0 } else { CLIENTS };
    let bottom = drawn.bottom() + 20.0 + LEGEND_ROW * legend.len() as f32;
    let area = Rect::from_min_max(
        Pos2::new(drawn.left() - MARGIN, top - MARGIN),
        Pos2::new(right + MARGIN, bottom + MARGIN),
    );

    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0}" height="{h:.0}" viewBox="{x:.1} {y:.1} {w:.1} {h:.1}" font-family="Ubuntu, DejaVu Sans, Arial, sans-serif">"#,
        x = area.left(),
        y = area.top(),
        w = area.width(),
        h = area.height(),
    );
    // An arrowhead per colour (SVG 1.1 has no "the line's colour").
    out.push_str("<defs>\n");
    let mut colors: Vec<Color32> = legend.iter().map(|(_, k)| k.color()).collect();
    colors.extend([CLIENT_LINK, PROMETHEUS]);
    colors.sort_by_key(|c| c.to_array());
    colors.dedup();
    for c in colors {
        let _ = writeln!(
            out,
            r##"<marker id="arrow-{id}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="5" markerHeight="5" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#{id}"/></marker>"##,
            id = &hex(c)[1..]
        );
    }
    out.push_str("</defs>\n");
    rect(&mut out, area, 0.0, Color32::WHITE, None);
    // Title.
    let title_y = area.top() + MARGIN + 18.0;
    let _ = writeln!(
        out,
        r##"<text x="{:.1}" y="{title_y:.1}" font-size="20" font-weight="bold" fill="#202020">{}</text>"##,
        area.left() + MARGIN,
        escape(&t.name)
    );
    for (i, text) in notes.iter().enumerate() {
        let _ = writeln!(
            out,
            r##"<text x="{:.1}" y="{:.1}" font-size="12" fill="#505050">{}</text>"##,
            area.left() + MARGIN,
            title_y + NOTE_LINE * (i + 1) as f32,
            escape(text)
        );
    }
    // Host boxes under everything.
    hosts.sort_by_key(|h| h.0.to_string());
    for (subject, r, region) in &hosts {
        rect(
            &mut out,
            *r,
            8.0,
            Color32::from_gray(244),
            Some((Color32::from_gray(150), 1.0)),
        );
        let mut title = subject.to_string();
        if let Some(region) = region {
            let _ = write!(title, "  ({region})");
        }
        let _ = writeln!(
            out,
            r##"<text x="{:.1}" y="{:.1}" font-size="14" fill="#202020">{}</text>"##,
            r.left() + 8.0,
            r.top() + TITLE - 10.0,
            escape(&title)
        );
    }
    // Links between the boxes they join.
    let mut links: Vec<(Pos2, Pos2, LinkKind, Option<String>)> = Vec::new();
    for (e, edge) in g.edges_iter() {
        let kind = *edge.payload();
        if kind == LinkKind::Contains {
            continue;
        }
        let Some((a, b)) = g.edge_endpoints(e) else {
            continue;
        };
        let (Some(sa), Some(sb)) = (subjects.get(&a), subjects.get(&b)) else {
            continue;
        };
        let (Some(ra), Some(rb)) = (boxes.get(sa), boxes.get(sb)) else {
            continue;
        };
        let (from, to) = (
            graph::edge_point(*ra, rb.center()),
            graph::edge_point(*rb, ra.center()),
        );
        // Weights are noted where they differ (equal ones say nothing),
        // backups and replication's mode always.
        let note = match kind {
            LinkKind::Backend { backup: false } if !uneven(t, sa) => None,
            _ => graph::link_note(t, sa, sb, kind),
        };
        links.push((from, to, kind, note));
    }
    links.sort_by(|a, b| {
        (a.0.x, a.0.y, a.1.x, a.1.y)
            .partial_cmp(&(b.0.x, b.0.y, b.1.x, b.1.y))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    for (from, to, kind, note) in &links {
        line(&mut out, *from, *to, kind.color(), kind.dashed());
        if let Some(note) = note {
            // Nearer the far end, where a load balancer's fan has spread.
            let at = from.lerp(
                *to,
                if kind == &LinkKind::Replication {
                    0.5
                } else {
                    0.7
                },
            );
            label(&mut out, at, note, kind.color());
        }
    }
    // The components over their links.
    components.sort_by_key(|c| c.0.to_string());
    for (_, r, kind, status) in &components {
        rect(&mut out, *r, 6.0, kind_color(*kind), None);
        let mut text = program(t, *kind).to_owned();
        if let Some(s) = status {
            let _ = write!(text, " · {}", s.trim_start_matches("🔒").trim());
        }
        let _ = writeln!(
            out,
            r##"<text x="{:.1}" y="{:.1}" font-size="13" fill="#ffffff">{}</text>"##,
            r.left() + 8.0,
            r.center().y + 4.5,
            escape(&text)
        );
    }
    // Prometheus beside the design, scraping the load balancers' stats
    // and each database's exporter.
    if let Some(r) = prometheus {
        let targets = graph::scrape_targets(t);
        for target in targets.iter().filter_map(|id| component(&id.host, id.kind)) {
            line(
                &mut out,
                r.left_center(),
                target.right_center(),
                PROMETHEUS,
                true,
            );
        }
        node(&mut out, r, "Prometheus", PROMETHEUS);
    }
    // The clients above the entry points, and the DNS that spreads them
    // over two load balancers.
    if let Some(span) = entries.iter().copied().reduce(|a, b| a.union(b)) {
        let center = Pos2::new(span.center().x, drawn.top() - CLIENTS / 2.0 - 6.0);
        let scheme = if t.security.tls { "https" } else { "http" };
        let text = format!("clients · {scheme}://{}", t.domain);
        let r = Rect::from_center_size(center, Vec2::new(text_width(&text, 12.0) + 20.0, 30.0));
        for e in &entries {
            let to = graph::edge_point(*e, r.center());
            line(
                &mut out,
                graph::edge_point(r, e.center()),
                to,
                CLIENT_LINK,
                false,
            );
        }
        // With DNS servers in the design, the clients ask them first.
        for (h, _) in t.dns_servers() {
            if let Some(d) = component(&h.name, ComponentKind::Dns) {
                line(
                    &mut out,
                    graph::edge_point(r, d.center()),
                    graph::edge_point(d, r.center()),
                    CLIENT_LINK,
                    true,
                );
            }
        }
        node(&mut out, r, &text, CLIENT_LINK);
        if let Some(text) = graph::dns_banner(t) {
            let dns = Rect::from_center_size(
                r.center_top() - Vec2::new(0.0, 16.0),
                Vec2::new(text_width(&text, 12.0) + 20.0, 24.0),
            );
            node(&mut out, dns, &text, kind_color(ComponentKind::Dns));
        } else if let Some(text) = graph::entry_banner(t) {
            let dns = Rect::from_center_size(
                r.center_top() - Vec2::new(0.0, 16.0),
                Vec2::new(text_width(&text, 12.0) + 20.0, 24.0),
            );
            node(&mut out, dns, &text, Color32::from_rgb(70, 110, 160));
        }
    }
    // The legend: what each kind of link means.
    let mut y = drawn.bottom() + 24.0;
    for (text, kind) in &legend {
        let x = drawn.left();
        line(
            &mut out,
            Pos2::new(x, y - 4.0),
            Pos2::new(x + 40.0, y - 4.0),
            kind.color(),
            kind.dashed(),
        );
        let _ = writeln!(
            out,
            r##"<text x="{:.1}" y="{y:.1}" font-size="12" fill="#404040">{}</text>"##,
            x + 50.0,
            escape(text)
        );
        y += LEGEND_ROW;
    }
    out.push_str("</svg>\n");
    out
}

/// The design drawn as a PNG image, `scale` pixels per canvas unit.
pub fn png(t: &Topology, scale: f32) -> Result<Vec<u8>, String> {
    let mut options = resvg::usvg::Options::default();
    // The fonts egui draws with, so the image reads like the app on any
    // machine, with or without system fonts.
    for font in [
        epaint_default_fonts::UBUNTU_LIGHT,
        epaint_default_fonts::HACK_REGULAR,
    ] {
        options.fontdb_mut().load_font_data(font.to_vec());
    }
    options.font_family = "Ubuntu".to_owned();
    let tree = resvg::usvg::Tree::from_str(&svg(t), &options)
        .map_err(|e| format!("the diagram's SVG does not parse: {e}"))?;
    let size = tree
        .size()
        .to_int_size()
        .scale_by(scale)
        .ok_or_else(|| format!("the diagram is too large to draw at {scale}× scale"))?;
    let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height())
        .ok_or_else(|| format!("a {}×{} image is too large", size.width(), size.height()))?;
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::from_scale(scale, scale),
        &mut pixmap.as_mut(),
    );
    pixmap
        .encode_png()
        .map_err(|e| format!("the PNG could not be encoded: {e}"))
}

/// The legend's rows: the kinds of link this design has.
fn legend_rows(t: &Topology, g: &graph::CanvasGraph) -> Vec<(String, LinkKind)> {
    let mut kinds: Vec<LinkKind> = Vec::new();
    for (_, edge) in g.edges_iter() {
        let k = *edge.payload();
        if k != LinkKind::Contains && !kinds.contains(&k) {
            kinds.push(k);
        }
    }
    let order = |k: &LinkKind| match k {
        LinkKind::Backend { backup: false } => 0,
        LinkKind::Backend { backup: true } => 1,
        LinkKind::Proxy => 2,
        LinkKind::Writes => 3,
        LinkKind::Reads => 4,
        LinkKind::Replication => 5,
        LinkKind::Names => 6,
        LinkKind::Contains => 7,
    };
    kinds.sort_by_key(order);
    kinds
        .into_iter()
        .map(|k| {
            let text = match k {
                LinkKind::Replication => format!(
                    "primary -> replica ({} replication)",
                    graph::mode(t.databases.replication)
                ),
                k => k.label().to_owned(),
            };
            (text, k)
        })
        .collect()
}

/// Whether the load balancer `lb` gives its active servers different weights.
fn uneven(t: &Topology, lb: &Subject) -> bool {
    t.host(lb.host())
        .and_then(|h| h.load_balancer())
        .is_some_and(|lb| {
            let mut weights = lb.backends.iter().filter(|b| !b.backup).map(|b| b.weight);
            let first = weights.next();
            weights.any(|w| Some(w) != first)
        })
}

/// The program a component runs, with the database's flavour.
fn program(t: &Topology, kind: ComponentKind) -> &'static str {
    match (kind, t.databases.flavor) {
        (ComponentKind::Db, Flavor::Mariadb) => "MariaDB",
        (kind, _) => kind.program(),
    }
}

fn line(out: &mut String, a: Pos2, b: Pos2, color: Color32, dashed: bool) {
    let dash = if dashed {
        r#" stroke-dasharray="6 4""#
    } else {
        ""
    };
    let _ = writeln!(
        out,
        r#"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{}" stroke-width="2"{dash} marker-end="url(#arrow-{})"/>"#,
        a.x,
        a.y,
        b.x,
        b.y,
        hex(color),
        &hex(color)[1..]
    );
}

/// A rectangle with corners of radius `rx`, filled, with an outline of
/// this colour and width if any.
fn rect(out: &mut String, r: Rect, rx: f32, fill: Color32, stroke: Option<(Color32, f32)>) {
    let outline = stroke.map_or_else(String::new, |(c, w)| {
        format!(r#" stroke="{}" stroke-width="{w}""#, hex(c))
    });
    let _ = writeln!(
        out,
        r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="{rx}" fill="{}"{outline}/>"#,
        r.left(),
        r.top(),
        r.width(),
        r.height(),
        hex(fill)
    );
}

/// A filled box with white text centred in it: the design's extra nodes.
fn node(out: &mut String, r: Rect, text: &str, fill: Color32) {
    rect(out, r, 5.0, fill, None);
    let _ = writeln!(
        out,
        r##"<text x="{:.1}" y="{:.1}" font-size="12" fill="#ffffff" text-anchor="middle">{}</text>"##,
        r.center().x,
        r.center().y + 4.0,
        escape(text)
    );
}

/// About how wide `text` is at `size` (no font at hand: the average
/// width of a character of a sans-serif font).
fn text_width(text: &str, size: f32) -> f32 {
    0.56 * size * text.chars().count() as f32
}

/// `text` in lines of at most about `width` at `size`, broken between words.
fn wrap(text: &str, size: f32, width: f32) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && text_width(&format!("{line} {word}"), size) > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// A small label on a white background, so lines never run through it.
fn label(out: &mut String, at: Pos2, text: &str, color: Color32) {
    let width = text_width(text, 11.0) + 8.0;
    let r = Rect::from_center_size(at, Vec2::new(width, 16.0));
    rect(out, r, 3.0, Color32::WHITE, Some((color, 0.8)));
    let _ = writeln!(
        out,
        r##"<text x="{:.1}" y="{:.1}" font-size="11" fill="#303030" text-anchor="middle">{}</text>"##,
        at.x,
        at.y + 4.0,
        escape(text)
    );
}

fn hex(c: Color32) -> String {
    format!("#{:02x}{:02x}{:02x}", c.r(), c.g(), c.b())
}

/// Text safe inside an SVG element or attribute.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML has no way to write the other control characters.
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preset;

    fn reference() -> Topology {
        preset::load_file_or_preset("reference").expect("preset")
    }

    #[test]
    fn the_svg_names_every_host_and_draws_every_link() {
        let t = reference();
        let svg = svg(&t);
        let tree = resvg::usvg::Tree::from_str(&svg, &resvg::usvg::Options::default())
            .expect("the SVG parses");
        assert!(tree.size().width() > 300.0 && tree.size().height() > 200.0);
        for h in &t.hosts {
            assert!(svg.contains(&format!(">{}<", h.name)), "{} missing", h.name);
        }
        // Two backends, two Nginx -> app, two apps to each of two
        // databases, one replication link, and the clients' link to lb-01;
        // and a line for each of the five kinds in the legend.
        assert_eq!(svg.matches("<line ").count(), 2 + 2 + 4 + 1 + 1 + 5);
        assert!(
            svg.contains(&format!("clients · http://{}", t.domain)),
            "{svg}"
        );
        // Equal weights say nothing; a different one is noted.
        assert!(!svg.contains("weight 100"), "{svg}");
        let mut uneven = t.clone();
        uneven.hosts[0].load_balancer_mut().expect("lb-01").backends[0].weight = 50;
        let drawn = super::svg(&uneven);
        assert!(
            drawn.contains("weight 50") && drawn.contains("weight 100"),
            "{drawn}"
        );
        assert!(svg.contains(">async<"), "{svg}");
        assert!(svg.contains("stroke-dasharray"), "replication is dashed");
    }

    #[test]
    fn the_svg_follows_the_design() {
        let mut t = reference();
        t.name = "a <b> & \"c\"".to_owned();
        t.security.tls = true;
        t.databases.replication = crate::model::ReplicationMode::SemiSync;
        t.databases.flavor = Flavor::Mariadb;
        let lb = t.hosts[0].load_balancer_mut().expect("lb-01");
        lb.backends[1].backup = true;
        lb.backends[1].weight = 7;
        let svg = svg(&t);
        resvg::usvg::Tree::from_str(&svg, &resvg::usvg::Options::default())
            .expect("names are escaped");
        assert!(svg.contains("a &lt;b&gt; &amp; &quot;c&quot;"));
        assert!(svg.contains(&format!("clients · https://{}", t.domain)));
        assert!(svg.contains("HAProxy · :443"));
        assert!(svg.contains("weight 7, backup"));
        assert!(svg.contains(">semi-sync<"));
        assert!(svg.contains(">MariaDB<"));
        assert!(svg.contains("LB -&gt; backup server"));
    }

    #[test]
    fn the_png_is_the_svg_drawn_at_twice_its_size() {
        let t = reference();
        let png = png(&t, 2.0).expect("drawn");
        assert_eq!(&png[1..4], b"PNG");
        let tree = resvg::usvg::Tree::from_str(&svg(&t), &resvg::usvg::Options::default())
            .expect("parses");
        // The header's width and height (big-endian, after the IHDR tag).
        let width = u32::from_be_bytes(png[16..20].try_into().expect("4 bytes"));
        let height = u32::from_be_bytes(png[20..24].try_into().expect("4 bytes"));
        assert_eq!(width, (tree.size().width() * 2.0).round() as u32);
        assert_eq!(height, (tree.size().height() * 2.0).round() as u32);
        // Text is drawn: another name makes another picture.
        let mut renamed = t.clone();
        renamed.name = "renamed".to_owned();
        assert_ne!(png, super::png(&renamed, 2.0).expect("drawn"));
    }

    #[test]
    fn long_notes_wrap_and_characters_xml_cannot_hold_are_dropped() {
        let mut t = reference();
        t.description = format!("{}\u{1}end", "word ".repeat(300));
        let svg = svg(&t);
        let tree =
            resvg::usvg::Tree::from_str(&svg, &resvg::usvg::Options::default()).expect("parses");
        assert!(tree.size().width() < 1000.0, "{}", tree.size().width());
        assert!(svg.matches(">word word").count() > 5, "{svg}");
        assert!(svg.contains("end<") && !svg.contains('\u{1}'));
    }
}
