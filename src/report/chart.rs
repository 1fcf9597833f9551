//! Charts drawn as SVG with plotters: lines with thresholds, bars, and a layered graph. SVG text
//! is left to the viewer's fonts, so nothing here needs a font or bitmap library.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::model::{Bar, Chart, Edge, Node, Series, Threshold};

const WIDTH: u32 = 760;
const HEIGHT: u32 = 340;

/// Colours that stay apart for people with the common colour-vision deficiencies (Okabe-Ito).
const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(120, 120, 120),
];
const THRESHOLD: RGBColor = RGBColor(200, 30, 30);
/// Lines a chart draws one by one; past that, the largest keep their own line and the rest are
/// summed into one grey "others" line (one line per tenant stops being readable at about 8).
const MAX_LINES: usize = PALETTE.len();
/// The legend's column, right of the plot, so it never covers data.
const LEGEND_WIDTH: u32 = 200;
/// Legend labels longer than this are cut (with an ellipsis), so the column stays narrow.
const LEGEND_CHARS: usize = 28;

/// The chart as an SVG document; an error names the chart and what could not be drawn.
pub fn svg(chart: &Chart) -> Result<String, String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, height(chart))).into_drawing_area();
        let drawn = match chart {
            Chart::Line { title, x_label, y_label, series, thresholds } => {
                line(&root, title, x_label, y_label, series, thresholds)
            }
            Chart::Bar { title, y_label, bars, thresholds } => bar(&root, title, y_label, bars, thresholds),
            Chart::Graph { title, nodes, edges } => graph(&root, title, nodes, edges),
        };
        drawn.map_err(|e| format!("chart {:?}: {e}", chart.title()))?;
        root.present().map_err(|e| format!("chart {:?}: {e}", chart.title()))?;
    }
    Ok(out)
}

type Drawn = Result<(), Box<dyn std::error::Error>>;

const NODE: (i32, i32) = (170, 28);
const NODE_GAP: i32 = 18;

/// A graph is as tall as its fullest layer; other charts have one height.
fn height(chart: &Chart) -> u32 {
    let Chart::Graph { nodes, .. } = chart else { return HEIGHT };
    let mut per_layer = std::collections::HashMap::new();
    for n in nodes {
        *per_layer.entry(n.depth).or_insert(0i32) += 1;
    }
    let rows = per_layer.values().copied().max().unwrap_or(1);
    (56 + rows * (NODE.1 + NODE_GAP)) as u32
}

/// The axis range of the values, widened when they are all one value so the axis has a length.
fn range(values: impl Iterator<Item = f64>, from_zero: bool) -> (f64, f64) {
    let (mut lo, mut hi) =
        values.filter(|v| v.is_finite()).fold((f64::MAX, f64::MIN), |(l, h), v| (l.min(v), h.max(v)));
    if lo > hi {
        return (0.0, 1.0);
    }
    if from_zero {
        lo = lo.min(0.0);
    }
    if (hi - lo).abs() < f64::EPSILON {
        hi = lo + lo.abs().max(1.0);
    }
    (lo, hi + (hi - lo) * 0.08)
}

/// Large numbers as 1.2k, 3.4M, so axis labels stay short.
fn short(v: f64) -> String {
    let a = v.abs();
    let (n, unit) = if a >= 1e9 {
        (v / 1e9, "G")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let text = if n.fract().abs() < 1e-9 { format!("{n:.0}") } else { format!("{n:.2}") };
    let text = if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_string() } else { text };
    format!("{text}{unit}")
}

fn line(
    root: &DrawingArea<SVGBackend, Shift>,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    thresholds: &[Threshold],
) -> Drawn {
    root.fill(&WHITE)?;
    let series = &readable(series);
    let (root, legend_area) = root.split_horizontally(WIDTH - LEGEND_WIDTH);
    let root = &root;
    let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p[0]));
    let ys = series.iter().flat_map(|s| s.points.iter().map(|p| p[1])).chain(thresholds.iter().map(|t| t.value));
    let (x0, x1) = range(xs, false);
    let (y0, y1) = range(ys, true);
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    let mut distinct: Vec<f64> = series.iter().flat_map(|s| s.points.iter().map(|p| p[0])).collect();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    chart
        .configure_mesh()
        .x_labels(distinct.len().clamp(2, 10))
        .x_desc(x_label)
        .y_desc(y_label)
        .x_label_formatter(&|v| short(*v))
        .y_label_formatter(&|v| short(*v))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    let mut entries = Vec::new();
    for (i, s) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let points: Vec<(f64, f64)> = s.points.iter().map(|p| (p[0], p[1])).collect();
        if s.dashed {
            chart.draw_series(DashedLineSeries::new(points, 6, 4, color.stroke_width(2)))?;
        } else {
            chart.draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?;
            chart.draw_series(points.into_iter().map(|p| Circle::new(p, 3, color.filled())))?;
        }
        entries.push((s.name.as_str(), color, s.dashed));
    }
    for t in thresholds {
        let style = THRESHOLD.stroke_width(1);
        chart.draw_series(DashedLineSeries::new(vec![(x0, t.value), (x1, t.value)], 4, 3, style))?;
        entries.push((t.label.as_str(), THRESHOLD, true));
    }
    legend(&legend_area, &entries)
}

/// The legend in its own column: a swatch and a label per line, top down.
fn legend(area: &DrawingArea<SVGBackend, Shift>, entries: &[(&str, RGBColor, bool)]) -> Drawn {
    let font = ("sans-serif", 12).into_font().color(&BLACK);
    for (n, (label, color, dashed)) in entries.iter().enumerate() {
        let y = 40 + 18 * n as i32;
        if *dashed {
            area.draw(&PathElement::new(vec![(4, y), (10, y)], color.stroke_width(2)))?;
            area.draw(&PathElement::new(vec![(14, y), (22, y)], color.stroke_width(2)))?;
        } else {
            area.draw(&PathElement::new(vec![(4, y), (22, y)], color.stroke_width(2)))?;
        }
        area.draw(&Text::new(cut(label), (28, y - 7), font.clone()))?;
    }
    Ok(())
}

/// `text`, cut to [`LEGEND_CHARS`] characters with an ellipsis.
fn cut(text: &str) -> String {
    if text.chars().count() <= LEGEND_CHARS {
        return text.to_string();
    }
    let kept: String = text.chars().take(LEGEND_CHARS - 1).collect();
    format!("{kept}…")
}

/// At most [`MAX_LINES`] series: the ones that reach highest, in their order, and the rest
/// summed point by point (same x) into one line named for how many it holds.
fn readable(series: &[Series]) -> Vec<Series> {
    if series.len() <= MAX_LINES {
        return series.to_vec();
    }
    let peak = |s: &Series| s.points.iter().map(|p| p[1]).filter(|v| v.is_finite()).fold(f64::MIN, f64::max);
    let mut ranked: Vec<usize> = (0..series.len()).collect();
    ranked.sort_by(|a, b| peak(&series[*b]).total_cmp(&peak(&series[*a])));
    let mut kept = ranked[..MAX_LINES - 1].to_vec();
    kept.sort_unstable();
    let mut sums: Vec<[f64; 2]> = Vec::new();
    let rest: Vec<&Series> = ranked[MAX_LINES - 1..].iter().map(|i| &series[*i]).collect();
    for p in rest.iter().flat_map(|s| &s.points).filter(|p| p[0].is_finite() && p[1].is_finite()) {
        match sums.iter_mut().find(|q| q[0] == p[0]) {
            Some(q) => q[1] += p[1],
            None => sums.push(*p),
        }
    }
    sums.sort_by(|a, b| a[0].total_cmp(&b[0]));
    let mut out: Vec<Series> = kept.into_iter().map(|i| series[i].clone()).collect();
    out.push(Series { name: format!("{} others (sum)", rest.len()), points: sums, dashed: false });
    out
}

/// Whether values this far apart need a logarithmic axis to all be seen.
fn spans_decades(values: &[f64]) -> bool {
    let positive: Vec<f64> = values.iter().copied().filter(|v| v.is_finite() && *v > 0.0).collect();
    let (lo, hi) = positive.iter().fold((f64::MAX, f64::MIN), |(l, h), v| (l.min(*v), h.max(*v)));
    !positive.is_empty() && hi / lo > 100.0
}

fn bar(
    root: &DrawingArea<SVGBackend, Shift>,
    title: &str,
    y_label: &str,
    bars: &[Bar],
    thresholds: &[Threshold],
) -> Drawn {
    root.fill(&WHITE)?;
    let n = bars.len().max(1);
    let values: Vec<f64> = bars.iter().map(|b| b.value).chain(thresholds.iter().map(|t| t.value)).collect();
    // A logarithmic axis is drawn as log10 of the values on a linear one, labelled back.
    let log = spans_decades(&values);
    let floor = if log {
        values.iter().filter(|v| **v > 0.0).fold(f64::MAX, |a, v| a.min(*v)).log10().floor() - 0.5
    } else {
        0.0
    };
    let at = |v: f64| if log { if v > 0.0 { v.log10() } else { floor } } else { v };
    let (_, y1) = range(values.iter().map(|v| at(*v)), !log);
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64)
        // An integer range's segments include its end: n bars need 0..n-1.
        .build_cartesian_2d((0..n.max(2) - 1).into_segmented(), floor..y1)?;
    let label = |v: &SegmentValue<usize>| match v {
        SegmentValue::CenterOf(i) => bars.get(*i).map_or_else(String::new, |b| b.label.clone()),
        _ => String::new(),
    };
    let y_text = |v: &f64| if log { short(10f64.powf(*v)) } else { short(*v) };
    let y_desc = if log { format!("{y_label} (log scale)") } else { y_label.to_string() };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n)
        .x_label_formatter(&label)
        .y_desc(y_desc)
        .y_labels(if log { ((y1 - floor).ceil() as usize + 1).max(2) } else { 10 })
        .y_label_formatter(&y_text)
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    let lowest = thresholds.iter().map(|t| t.value).fold(f64::MAX, f64::min);
    chart.draw_series(bars.iter().enumerate().map(|(i, b)| {
        let color = if b.value > lowest { PALETTE[5] } else { PALETTE[0] };
        let mut rect = Rectangle::new(
            [(SegmentValue::Exact(i), floor), (SegmentValue::Exact(i + 1), at(b.value))],
            color.filled(),
        );
        rect.set_margin(0, 0, 8, 8);
        rect
    }))?;
    for t in thresholds {
        let style = THRESHOLD.stroke_width(1);
        let y = at(t.value);
        chart
            .draw_series(DashedLineSeries::new(
                vec![(SegmentValue::Exact(0), y), (SegmentValue::Exact(n.max(2) - 1), y)],
                4,
                3,
                style,
            ))?
            .label(&t.label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
    }
    if !thresholds.is_empty() {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .label_font(("sans-serif", 12))
            .draw()?;
    }
    Ok(())
}

fn role_color(role: &str) -> RGBColor {
    match role {
        "root" => RGBColor(213, 94, 0),
        "cascaded" => RGBColor(230, 159, 0),
        "impacted" => RGBColor(240, 228, 66),
        _ => RGBColor(200, 200, 200),
    }
}

/// Nodes in columns by depth, edges as arrows from left to right.
fn graph(root: &DrawingArea<SVGBackend, Shift>, title: &str, nodes: &[Node], edges: &[Edge]) -> Drawn {
    root.fill(&WHITE)?;
    let font = ("sans-serif", 13).into_font();
    root.draw(&Text::new(title.to_string(), (12, 8), ("sans-serif", 16).into_font()))?;
    let layers = nodes.iter().map(|n| n.depth).max().map_or(1, |d| d as usize + 1);
    let (w, h) = NODE;
    let column = ((WIDTH as i32 - 24 - w) / (layers as i32).max(1)).max(w + 20);
    let mut place = std::collections::HashMap::new();
    let mut per_layer = vec![0i32; layers];
    for node in nodes {
        let layer = node.depth as usize;
        let x = 12 + layer as i32 * column;
        let y = 44 + per_layer[layer] * (h + NODE_GAP);
        per_layer[layer] += 1;
        place.insert(node.name.as_str(), (x, y));
    }
    for edge in edges {
        let (Some(&(fx, fy)), Some(&(tx, ty))) = (place.get(edge.from.as_str()), place.get(edge.to.as_str())) else {
            continue;
        };
        let (start, end) = ((fx + w, fy + h / 2), (tx, ty + h / 2));
        root.draw(&PathElement::new(vec![start, end], RGBColor(90, 90, 90).stroke_width(1)))?;
        let head = vec![end, (end.0 - 8, end.1 - 4), (end.0 - 8, end.1 + 4)];
        root.draw(&Polygon::new(head, RGBColor(90, 90, 90).filled()))?;
    }
    for node in nodes {
        let (x, y) = place[node.name.as_str()];
        root.draw(&Rectangle::new([(x, y), (x + w, y + h)], role_color(&node.role).filled()))?;
        root.draw(&Rectangle::new([(x, y), (x + w, y + h)], RGBColor(60, 60, 60).stroke_width(1)))?;
        let text = if node.role.is_empty() { node.name.clone() } else { format!("{} ({})", node.name, node.role) };
        root.draw(&Text::new(text, (x + 6, y + 8), font.clone()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_chart_has_its_series_thresholds_and_labels() {
        let chart = Chart::Line {
            title: "heap <bytes>".into(),
            x_label: "snapshot".into(),
            y_label: "bytes".into(),
            series: vec![
                Series { name: "api-svc".into(), points: vec![[1.0, 1e6], [2.0, 3e6]], dashed: false },
                Series { name: "baseline".into(), points: vec![[1.0, 1e6], [2.0, 1e6]], dashed: true },
            ],
            thresholds: vec![Threshold { label: "limit".into(), value: 2.5e6 }],
        };
        let svg = svg(&chart).unwrap();
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("heap &lt;bytes&gt;") && svg.contains("api-svc") && svg.contains("limit"), "{svg}");
        assert!(svg.contains("polyline"), "{svg}");
    }

    #[test]
    fn empty_and_flat_data_still_draw() {
        let empty = Chart::Bar { title: "risk".into(), y_label: "score".into(), bars: vec![], thresholds: vec![] };
        assert!(svg(&empty).unwrap().contains("risk"));
        let flat = Chart::Line {
            title: "flat".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            series: vec![Series { name: "one".into(), points: vec![[0.0, 5.0]], dashed: false }],
            thresholds: vec![],
        };
        assert!(svg(&flat).unwrap().contains("one"));
    }

    #[test]
    fn bars_far_apart_get_a_log_axis() {
        let bars = |values: &[f64]| Chart::Bar {
            title: "burn".into(),
            y_label: "burn rate".into(),
            bars: values.iter().map(|v| Bar { label: format!("w{v}"), value: *v }).collect(),
            thresholds: vec![Threshold { label: "page 14.4x".into(), value: 14.4 }],
        };
        assert!(svg(&bars(&[1000.0, 333.0, 0.5])).unwrap().contains("burn rate (log scale)"));
        assert!(!svg(&bars(&[20.0, 10.0, 1.0])).unwrap().contains("log scale"));
    }

    #[test]
    fn a_graph_is_as_tall_as_its_fullest_layer() {
        let node = |name: &str, depth| Node { name: name.into(), role: "impacted".into(), depth };
        let nodes: Vec<Node> = (0..9).map(|i| node(&format!("svc-{i}"), 1)).chain([node("db", 0)]).collect();
        let chart = Chart::Graph { title: "cascade".into(), nodes, edges: vec![] };
        assert_eq!(height(&chart), 56 + 9 * 46);
        assert!(svg(&chart).unwrap().contains("svc-8 (impacted)"));
    }

    #[test]
    fn many_lines_keep_the_highest_and_sum_the_rest_with_the_legend_beside_the_plot() {
        let series: Vec<Series> = (0..25)
            .map(|i| Series {
                name: format!("api-svc/tenant-{i:02}"),
                points: vec![[0.0, 100.0 * f64::from(i)], [1.0, 100.0 * f64::from(i) + 1.0]],
                dashed: false,
            })
            .collect();
        let kept = readable(&series);
        assert_eq!(kept.len(), MAX_LINES);
        let names: Vec<&str> = kept.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(&names[..2], ["api-svc/tenant-19", "api-svc/tenant-20"], "the highest, in their order");
        assert_eq!(names[6], "19 others (sum)");
        let others: f64 = (0..19).map(|i| 100.0 * f64::from(i)).sum();
        assert_eq!(kept[6].points, vec![[0.0, others], [1.0, others + 19.0]]);

        let chart = Chart::Line {
            title: "tenants".into(),
            x_label: "x".into(),
            y_label: "bytes".into(),
            series,
            thresholds: vec![],
        };
        let drawn = svg(&chart).unwrap();
        assert!(drawn.contains("api-svc/tenant-24") && drawn.contains("19 others (sum)"), "{drawn}");
        assert!(!drawn.contains("api-svc/tenant-03"), "summed, not drawn: {drawn}");
        assert_eq!(cut("a-very-long-service-name/tenant-with-a-long-id"), "a-very-long-service-name/te…");
        assert_eq!(readable(&chart_series(3)).len(), 3, "few lines stay as they are");
    }

    fn chart_series(n: usize) -> Vec<Series> {
        (0..n).map(|i| Series { name: format!("s{i}"), points: vec![[0.0, i as f64]], dashed: false }).collect()
    }

    #[test]
    fn short_numbers() {
        assert_eq!(short(1500.0), "1.5k");
        assert_eq!(short(2_000_000.0), "2M");
        assert_eq!(short(0.25), "0.25");
        assert_eq!(short(14.0), "14");
    }
}
