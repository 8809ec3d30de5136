//! `peo trace`: an object's journey drawn as SVG.

use super::*;
use anstream::println;

pub(crate) fn xml(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// One lane per node (in order of first appearance), one box per record left to right;
/// a dormant record is followed by a gap, a delegation by an arrow to the next lane.
pub(crate) fn journey_svg(object: &Object, records: &[Record]) -> String {
    let rows: Vec<Value> = records.iter().map(Record::to_json).collect();
    let lane_name = |r: &Value| {
        let id = r["node"]["id"].as_str().filter(|s| !s.is_empty()).unwrap_or("creator");
        let domain = r["node"]["domain"].as_str().filter(|s| !s.is_empty()).unwrap_or("-");
        format!("{id} ({domain})")
    };
    let mut lanes: Vec<String> = Vec::new();
    for r in &rows {
        let l = lane_name(r);
        if !lanes.contains(&l) {
            lanes.push(l);
        }
    }
    let (left, top, lane_h, box_w, box_h, step, gap) = (170.0, 60.0, 70.0, 118.0, 46.0, 130.0, 40.0);
    let mut x = left;
    let mut boxes = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let lane = lanes.iter().position(|l| *l == lane_name(r)).unwrap_or(0) as f64;
        boxes.push((x, top + lane * lane_h + (lane_h - box_h) / 2.0));
        x += step;
        if r["action"] == "dormant" && i + 1 < rows.len() {
            x += gap;
        }
    }
    let width = x + 40.0;
    let height = top + lanes.len() as f64 * lane_h + 40.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"11\">\n\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#555\"/></marker></defs>\n\
         <text x=\"12\" y=\"24\" font-size=\"15\" font-weight=\"bold\">object {} ({}, {} records)</text>\n",
        object.id(),
        object.status().as_str(),
        rows.len()
    );
    for (i, l) in lanes.iter().enumerate() {
        let y = top + i as f64 * lane_h;
        let fill = if i % 2 == 0 { "#f4f6f8" } else { "#ffffff" };
        svg.push_str(&format!(
            "<g class=\"lane\"><rect x=\"0\" y=\"{y}\" width=\"{width}\" height=\"{lane_h}\" fill=\"{fill}\"/>\
             <text x=\"12\" y=\"{}\" font-weight=\"bold\">{}</text></g>\n",
            y + lane_h / 2.0 + 4.0,
            xml(l)
        ));
    }
    for (i, r) in rows.iter().enumerate() {
        let (bx, by) = boxes[i];
        if i > 0 {
            let (px, py) = boxes[i - 1];
            let delegated = rows[i - 1]["action"] == "delegate";
            let dashed = if rows[i - 1]["action"] == "dormant" { " stroke-dasharray=\"4 3\"" } else { "" };
            svg.push_str(&format!(
                "<line class=\"{}\" x1=\"{}\" y1=\"{}\" x2=\"{bx}\" y2=\"{}\" stroke=\"#555\" stroke-width=\"{}\"{dashed} marker-end=\"url(#arrow)\"/>\n",
                if delegated { "delegation" } else { "next" },
                px + box_w,
                py + box_h / 2.0,
                by + box_h / 2.0,
                if delegated { 2.0 } else { 1.0 }
            ));
        }
        let action = r["action"].as_str().unwrap_or("?");
        let failed = r["body"]["error"].is_object();
        let colour = match action {
            _ if failed => "#ffc9c9",
            "genesis" => "#d0d7de",
            "execute" => "#b7e4c7",
            "delegate" => "#a5d8ff",
            "dormant" => "#ffe8a3",
            "reentry" => "#ffd8a8",
            "terminate" => "#e5b3fe",
            _ => "#e9ecef",
        };
        let state = r["state"].as_str().filter(|s| !s.is_empty()).or(r["next_state"].as_str()).unwrap_or("");
        let mut title = format!("#{} {action} {state}", r["seq"]);
        if let Some(e) = r["body"]["error"].as_object() {
            title.push_str(&format!(" failed {}", e["error"].as_str().unwrap_or("")));
        }
        if let Some(a) = r["advice"].as_object() {
            let verdict = if a["followed"] == json!(true) { "followed" } else { "overridden" };
            title.push_str(&format!(" (advice {} {verdict})", a["action"].as_str().unwrap_or("")));
        }
        if let Some(p) = r["policy"].as_object() {
            title.push_str(&format!(" [policy {}]", p["decision"].as_str().unwrap_or("")));
        }
        svg.push_str(&format!(
            "<g class=\"record\" data-seq=\"{}\" data-action=\"{action}\"><title>{}</title>\
             <rect x=\"{bx}\" y=\"{by}\" width=\"{box_w}\" height=\"{box_h}\" rx=\"6\" fill=\"{colour}\" stroke=\"#333\"/>\
             <text x=\"{}\" y=\"{}\" font-weight=\"bold\">#{} {action}</text>\
             <text x=\"{}\" y=\"{}\">{}</text></g>\n",
            r["seq"],
            xml(&title),
            bx + 6.0,
            by + 18.0,
            r["seq"],
            bx + 6.0,
            by + 35.0,
            xml(&state.chars().take(18).collect::<String>())
        ));
    }
    svg.push_str("</svg>\n");
    svg
}

pub(crate) fn trace(path: &Path, output: &Path) -> Res<ExitCode> {
    let object = read_object(path)?;
    let records = object.records().map_err(|e| format!("{}: {e}", path.display()))?;
    write(output, journey_svg(&object, &records).as_bytes())?;
    println!("wrote {} ({} records)", output.display(), records.len());
    Ok(ExitCode::SUCCESS)
}
