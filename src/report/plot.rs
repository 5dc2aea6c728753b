//! PNG charts with plotters (bitmap backend, DejaVu Sans embedded so no system fonts are
//! needed). Each function draws one chart into a file and reports plotting errors as text.

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One series per run: its label and colour.
pub struct Series<'a> {
    pub label: &'a str,
    pub color: RGBColor,
}

pub const COLORS: [RGBColor; 2] = [RGBColor(66, 113, 196), RGBColor(230, 126, 34)];

fn fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular());
        let _ = plotters::style::register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold());
    });
}

type Res = Result<(), String>;

/// The series legend every chart draws, in its upper right corner.
fn draw_legend<'a, CT: CoordTranslate>(chart: &mut ChartContext<'a, BitMapBackend<'a>, CT>) -> Res {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Grouped bars of accuracy (0-100%) per category, with 95% interval whiskers.
pub fn accuracy_bars(path: &Path, categories: &[String], series: &[Series], values: &[Vec<(f64, f64, f64)>]) -> Res {
    fonts();
    let root = BitMapBackend::new(path, (900, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let n = categories.len().max(1);
    let k = series.len().max(1) as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption("Accuracy by category (95% CI)", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(60)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..n as f64, 0f64..115f64)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_labels(12)
        .y_label_formatter(&|y| if *y <= 100.0 { format!("{y:.0}") } else { String::new() })
        .y_desc("accuracy %")
        .draw()
        .map_err(err)?;
    // Category names under each group of bars, placed by pixel (plotters' automatic ticks
    // would not line up with the groups).
    let label_style = ("sans-serif", 13).into_font().color(&BLACK).pos(Pos::new(HPos::Center, VPos::Top));
    for (i, c) in categories.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
        root.draw(&Text::new(c.clone(), (x, y + 8), label_style.clone())).map_err(err)?;
    }
    for (si, s) in series.iter().enumerate() {
        let w = 0.8 / k;
        let bars = values[si].iter().enumerate().map(|(ci, (acc, _, _))| {
            let x0 = ci as f64 + 0.1 + si as f64 * w;
            Rectangle::new([(x0, 0.0), (x0 + w * 0.9, acc * 100.0)], s.color.filled())
        });
        chart
            .draw_series(bars)
            .map_err(err)?
            .label(s.label)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], s.color.filled()));
        let whiskers = values[si].iter().enumerate().map(|(ci, (_, lo, hi))| {
            let xm = ci as f64 + 0.1 + si as f64 * w + w * 0.45;
            let acc = values[si][ci].0;
            ErrorBar::new_vertical(xm, lo * 100.0, acc * 100.0, hi * 100.0, BLACK.stroke_width(1), 6)
        });
        chart.draw_series(whiskers).map_err(err)?;
    }
    draw_legend(&mut chart)?;
    root.present().map_err(err)
}

/// Horizontal grouped bars: count per error type.
pub fn error_bars(path: &Path, types: &[String], series: &[Series], counts: &[Vec<usize>]) -> Res {
    fonts();
    let height = 120 + 28 * types.len().max(1) as u32;
    let root = BitMapBackend::new(path, (900, height)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let max = counts.iter().flatten().copied().max().unwrap_or(1).max(1) as f64;
    let n = types.len().max(1);
    let k = series.len().max(1) as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption("Error types (invalid outputs)", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(330)
        .build_cartesian_2d(0f64..max * 1.45, 0f64..n as f64)
        .map_err(err)?;
    chart.configure_mesh().disable_y_mesh().y_labels(0).x_desc("cases").draw().map_err(err)?;
    let label_style = ("sans-serif", 13).into_font().color(&BLACK).pos(Pos::new(HPos::Right, VPos::Center));
    for (i, t) in types.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(0.0, i as f64 + 0.5));
        root.draw(&Text::new(t.clone(), (x - 8, y), label_style.clone())).map_err(err)?;
    }
    for (si, s) in series.iter().enumerate() {
        let h = 0.8 / k;
        let bars = counts[si].iter().enumerate().map(|(ti, c)| {
            let y0 = ti as f64 + 0.1 + si as f64 * h;
            Rectangle::new([(0.0, y0), (*c as f64, y0 + h * 0.9)], s.color.filled())
        });
        chart
            .draw_series(bars)
            .map_err(err)?
            .label(s.label)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], s.color.filled()));
    }
    draw_legend(&mut chart)?;
    root.present().map_err(err)
}

/// Histogram of end-to-end latencies (ms), one outline per run.
pub fn latency_histogram(path: &Path, series: &[Series], values: &[Vec<f64>]) -> Res {
    fonts();
    let root = BitMapBackend::new(path, (900, 380)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let max = values.iter().flatten().copied().fold(1.0f64, f64::max);
    let bins = 30usize;
    let width = max / bins as f64;
    let hist: Vec<Vec<usize>> = values
        .iter()
        .map(|v| {
            let mut h = vec![0usize; bins];
            for x in v {
                h[((x / width) as usize).min(bins - 1)] += 1;
            }
            h
        })
        .collect();
    let top = hist.iter().flatten().copied().max().unwrap_or(1).max(1) as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption("End-to-end latency per case", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..max * 1.02, 0f64..top * 1.15)
        .map_err(err)?;
    chart.configure_mesh().x_desc("ms").y_desc("cases").draw().map_err(err)?;
    for (si, s) in series.iter().enumerate() {
        let bars = hist[si].iter().enumerate().map(|(b, c)| {
            let x0 = b as f64 * width;
            Rectangle::new([(x0, 0.0), (x0 + width, *c as f64)], s.color.mix(0.45).filled())
        });
        chart
            .draw_series(bars)
            .map_err(err)?
            .label(s.label)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], s.color.filled()));
    }
    draw_legend(&mut chart)?;
    root.present().map_err(err)
}

/// Empirical CDF of end-to-end latency.
pub fn latency_cdf(path: &Path, series: &[Series], values: &[Vec<f64>]) -> Res {
    fonts();
    let root = BitMapBackend::new(path, (900, 380)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let max = values.iter().flatten().copied().fold(1.0f64, f64::max);
    let mut chart = ChartBuilder::on(&root)
        .caption("Latency CDF", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..max * 1.02, 0f64..1.0f64)
        .map_err(err)?;
    chart.configure_mesh().x_desc("ms").y_desc("share of cases").draw().map_err(err)?;
    for (si, s) in series.iter().enumerate() {
        let mut v = values[si].clone();
        v.sort_by(f64::total_cmp);
        let n = v.len().max(1) as f64;
        let pts: Vec<(f64, f64)> = v.iter().enumerate().map(|(i, x)| (*x, (i + 1) as f64 / n)).collect();
        let color = s.color;
        chart
            .draw_series(LineSeries::new(pts, color.stroke_width(2)))
            .map_err(err)?
            .label(s.label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], color.stroke_width(2)));
    }
    draw_legend(&mut chart)?;
    root.present().map_err(err)
}

/// Scatter of points (x, y) per run, e.g. TTFT against prompt length or cases/s against
/// concurrency.
pub fn scatter(path: &Path, title: &str, x_desc: &str, y_desc: &str, series: &[Series], points: &[Vec<(f64, f64)>], lines: bool) -> Res {
    fonts();
    let root = BitMapBackend::new(path, (900, 380)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let xmax = points.iter().flatten().map(|p| p.0).fold(1.0f64, f64::max);
    let ymax = points.iter().flatten().map(|p| p.1).fold(1e-9f64, f64::max);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..xmax * 1.1, 0f64..ymax * 1.15)
        .map_err(err)?;
    chart.configure_mesh().x_desc(x_desc).y_desc(y_desc).draw().map_err(err)?;
    for (si, s) in series.iter().enumerate() {
        let color = s.color;
        chart
            .draw_series(points[si].iter().map(|p| Circle::new(*p, 4, color.filled())))
            .map_err(err)?
            .label(s.label)
            .legend(move |(x, y)| Circle::new((x + 5, y), 4, color.filled()));
        if lines {
            let mut sorted = points[si].clone();
            sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
            chart.draw_series(LineSeries::new(sorted, color.stroke_width(1))).map_err(err)?;
        }
    }
    draw_legend(&mut chart)?;
    root.present().map_err(err)
}
