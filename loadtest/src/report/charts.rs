//! The PNG charts: latency distributions (HDR style: the x axis spreads
//! the tail, 90 %, 99 %, 99.9 % …) and throughput over time with the
//! server's CPU below. Text is drawn with a font compiled into the binary
//! (Noto Sans, from the `ttf-noto-sans` crate), so no system font is needed.

use super::Report;
use anyhow::anyhow;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};
use std::path::Path;
use std::sync::Once;

static FONT: Once = Once::new();

fn font() {
    FONT.call_once(|| {
        if register_font("sans-serif", FontStyle::Normal, ttf_noto_sans::REGULAR).is_err() {
            eprintln!("warning: the bundled font could not be loaded; charts have no text");
        }
    });
}

fn target_color(target: &str, shade: usize) -> RGBColor {
    let chat = [
        RGBColor(31, 94, 180),
        RGBColor(110, 160, 230),
        RGBColor(20, 50, 110),
    ];
    let xmpp = [
        RGBColor(200, 60, 40),
        RGBColor(240, 140, 110),
        RGBColor(120, 30, 20),
    ];
    let set = if target == "chat" { chat } else { xmpp };
    set[shade % set.len()]
}

fn kind_shade(kind: &str) -> usize {
    match kind {
        "delivered" => 0,
        "sent" => 1,
        _ => 2,
    }
}

/// `-log10(1 - p/100)`: 0 at 0 %, 1 at 90 %, 2 at 99 %, 3 at 99.9 %.
fn tail_x(percentile: f64) -> f64 {
    -(1.0 - percentile / 100.0).max(1e-7).log10()
}

fn tail_label(x: &f64) -> String {
    let p = 100.0 - 100.0 / 10f64.powf(*x);
    let mut s = format!("{p:.3}");
    while s.ends_with('0') {
        s.pop();
    }
    if s.ends_with('.') {
        s.pop();
    }
    format!("{s}%")
}

fn plot_err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing a chart: {e:?}")
}

/// One line of the latency chart: its legend, its target, its points.
type Curve<'a> = (String, &'a str, Vec<(f64, f64)>);

/// Latency distribution of every run and kind, log-scaled milliseconds.
pub fn latency(r: &Report, path: &Path) -> anyhow::Result<()> {
    font();
    let series: Vec<Curve<'_>> = r
        .runs
        .iter()
        .flat_map(|run| {
            run.latency.iter().map(move |(kind, l)| {
                let pts = l
                    .distribution
                    .iter()
                    .map(|&(p, ms)| (tail_x(p), ms.max(0.01)))
                    .collect();
                (format!("{} {kind}", run.target), run.target.as_str(), pts)
            })
        })
        .collect();
    let max_ms = series
        .iter()
        .flat_map(|(_, _, p)| p.iter().map(|&(_, y)| y))
        .fold(1.0f64, f64::max);
    let min_ms = series
        .iter()
        .flat_map(|(_, _, p)| p.iter().map(|&(_, y)| y))
        .fold(max_ms, f64::min)
        .max(0.01);
    let root = BitMapBackend::new(path, (1000, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err)?;
    let title = format!("{} — latency distribution", r.scenario);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 24))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..5f64, (min_ms * 0.8..max_ms * 1.5).log_scale())
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency, ms (log scale)")
        .x_labels(6)
        .x_label_formatter(&tail_label)
        .label_style(("sans-serif", 15))
        .draw()
        .map_err(plot_err)?;
    for (name, target, pts) in series {
        let kind = name.rsplit(' ').next().unwrap_or("");
        let color = target_color(target, kind_shade(kind));
        chart
            .draw_series(LineSeries::new(pts, color.stroke_width(2)))
            .map_err(plot_err)?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .label_font(("sans-serif", 15))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(plot_err)?;
    root.present().map_err(plot_err)?;
    Ok(())
}

/// What the throughput chart plots for a scenario.
fn rate_of(scenario: &str, s: &crate::record::Second) -> (f64, &'static str) {
    match scenario {
        "connections" => (s.connects as f64, "connections opened/s"),
        _ => (s.deliveries as f64, "deliveries/s"),
    }
}

/// Throughput per second of every run, and the server's CPU below it.
pub fn throughput(r: &Report, path: &Path) -> anyhow::Result<()> {
    font();
    let root = BitMapBackend::new(path, (1000, 700)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err)?;
    let (top, bottom) = root.split_vertically(430);
    let t_max = r
        .runs
        .iter()
        .map(|run| run.timeline.len())
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let y_max = r
        .runs
        .iter()
        .flat_map(|run| run.timeline.iter().map(|s| rate_of(&r.scenario, s).0))
        .fold(1.0f64, f64::max);
    let what = r
        .runs
        .first()
        .and_then(|run| run.timeline.first())
        .map(|s| rate_of(&r.scenario, s).1)
        .unwrap_or("per second");
    let mut chart = ChartBuilder::on(&top)
        .caption(
            format!("{} — {what} over time", r.scenario),
            ("sans-serif", 24),
        )
        .margin(15)
        .x_label_area_size(35)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..t_max, 0f64..y_max * 1.1)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .x_desc("seconds since the devices started connecting")
        .y_desc(what)
        .label_style(("sans-serif", 15))
        .draw()
        .map_err(plot_err)?;
    for run in &r.runs {
        let color = target_color(&run.target, 0);
        let pts: Vec<(f64, f64)> = run
            .timeline
            .iter()
            .map(|s| (s.t as f64, rate_of(&r.scenario, s).0))
            .collect();
        chart
            .draw_series(LineSeries::new(pts, color.stroke_width(2)))
            .map_err(plot_err)?
            .label(run.target.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .label_font(("sans-serif", 15))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(plot_err)?;

    let cpu_max = r
        .runs
        .iter()
        .flat_map(|run| {
            run.timeline
                .iter()
                .map(|s| s.server_cpu_pct.max(s.generator_cpu_pct))
        })
        .fold(100.0f64, f64::max);
    let mut cpu = ChartBuilder::on(&bottom)
        .margin(15)
        .x_label_area_size(35)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..t_max, 0f64..cpu_max * 1.05)
        .map_err(plot_err)?;
    cpu.configure_mesh()
        .x_desc("seconds")
        .y_desc("CPU, % of one core")
        .label_style(("sans-serif", 15))
        .draw()
        .map_err(plot_err)?;
    for run in &r.runs {
        let server = target_color(&run.target, 0);
        let generator = target_color(&run.target, 1);
        let s_pts: Vec<(f64, f64)> = run
            .timeline
            .iter()
            .map(|s| (s.t as f64, s.server_cpu_pct))
            .collect();
        let g_pts: Vec<(f64, f64)> = run
            .timeline
            .iter()
            .map(|s| (s.t as f64, s.generator_cpu_pct))
            .collect();
        cpu.draw_series(AreaSeries::new(s_pts, 0.0, server.mix(0.25)).border_style(server))
            .map_err(plot_err)?
            .label(format!("{} server CPU", run.target))
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 20, y + 5)], server.mix(0.5).filled())
            });
        cpu.draw_series(LineSeries::new(g_pts, generator.stroke_width(1)))
            .map_err(plot_err)?
            .label(format!("generator CPU ({} run)", run.target))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], generator));
    }
    cpu.configure_series_labels()
        .label_font(("sans-serif", 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(plot_err)?;
    root.present().map_err(plot_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_axis_reads_as_percentiles() {
        assert!((tail_x(99.0) - 2.0).abs() < 1e-9);
        assert_eq!(tail_label(&0.0), "0%");
        assert_eq!(tail_label(&1.0), "90%");
        assert_eq!(tail_label(&3.0), "99.9%");
    }
}
