//! The three plots, as PNG: throughput per configuration, p95 block latency against offered
//! load, and listeners served without stalls per core. Text is drawn with DejaVu Sans embedded
//! in the binary, so no system font is needed.

use std::{collections::BTreeMap, path::Path};

use anyhow::{Result, anyhow};
use plotters::{
    prelude::*,
    style::text_anchor::{HPos, Pos, VPos},
};

use crate::{
    grid::Config,
    report::summaries,
    results::{Results, percentile},
};

const SIZE: (u32, u32) = (1000, 620);
const FONT: &str = "sans-serif";

fn register_font() -> Result<()> {
    plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular())
        .map_err(|_| anyhow!("the embedded DejaVu Sans font did not load"))
}

fn color(i: usize) -> RGBColor {
    const COLORS: [RGBColor; 8] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(23, 190, 207),
    ];
    COLORS[i % COLORS.len()]
}

/// Writes `throughput.png`, `latency.png` and `per-core.png` into `dir`; returns their paths.
pub fn write_all(results: &Results, dir: &Path) -> Result<Vec<String>> {
    register_font()?;
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    let throughput = dir.join("throughput.png");
    bars(
        results,
        &throughput,
        "Throughput by replicas × threads",
        "audio seconds synthesized per wall second",
        |run| run.throughput(),
    )?;
    written.push(throughput.display().to_string());
    let per_core = dir.join("per-core.png");
    let cores = f64::from(results.cores.max(1));
    bars(
        results,
        &per_core,
        &format!(
            "Listeners served without stalls, per core ({} cores)",
            results.cores
        ),
        "listeners at 1× without a stall ÷ machine cores",
        |run| Some(run.saturation().0 as f64 / cores),
    )?;
    written.push(per_core.display().to_string());
    let latency = dir.join("latency.png");
    latency_plot(results, &latency)?;
    written.push(latency.display().to_string());
    Ok(written)
}

/// One bar per configuration at the median of its runs, each run a dot, the range a whisker.
fn bars(
    results: &Results,
    path: &Path,
    title: &str,
    y_desc: &str,
    figure: impl Fn(&crate::results::RunResult) -> Option<f64>,
) -> Result<()> {
    let summaries = summaries(results);
    let baseline = Config {
        replicas: 1,
        threads: results.cores,
    };
    let columns: Vec<(String, Vec<f64>)> = summaries
        .iter()
        .map(|s| {
            let values: Vec<f64> = s.runs.iter().filter_map(|r| figure(r)).collect();
            let label = if s.config == Some(baseline) {
                format!("{} (baseline)", s.label)
            } else {
                s.label.clone()
            };
            (label, values)
        })
        .collect();
    let top = columns
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .fold(0.0_f64, f64::max)
        .max(0.1)
        * 1.2;
    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let n = columns.len().max(1);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, 26))
        .margin(20)
        .x_label_area_size(60)
        .y_label_area_size(80)
        .build_cartesian_2d(-0.5..(n as f64 - 0.5), 0.0..top)?;
    let labels: Vec<String> = columns.iter().map(|(l, _)| l.clone()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n)
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 {
                labels.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .x_desc("replicas × threads (baseline: one replica, every core a thread)")
        .light_line_style(RGBColor(238, 238, 238))
        .y_desc(y_desc)
        .axis_desc_style((FONT, 18))
        .label_style((FONT, 16))
        .draw()?;
    for (i, (_, values)) in columns.iter().enumerate() {
        let x = i as f64;
        let Some(s) = crate::results::spread(values) else {
            continue;
        };
        chart.draw_series(std::iter::once(Rectangle::new(
            [(x - 0.3, 0.0), (x + 0.3, s.median)],
            color(0).mix(0.35).filled(),
        )))?;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(x, s.min), (x, s.max)],
            BLACK.stroke_width(2),
        )))?;
        chart.draw_series(values.iter().enumerate().map(|(j, &v)| {
            let offset = (j as f64 - (values.len() as f64 - 1.0) / 2.0) * 0.08;
            Circle::new((x + offset, v), 5, color(0).filled())
        }))?;
        let above = TextStyle::from((FONT, 17))
            .pos(Pos::new(HPos::Center, VPos::Bottom))
            .color(&BLACK);
        chart.draw_series(std::iter::once(Text::new(
            format!("{:.2}", s.median),
            (x, s.max.max(s.median) + top * 0.03),
            above,
        )))?;
    }
    root.present()?;
    Ok(())
}

/// p95 block latency against the number of listeners, one line per configuration (all runs'
/// blocks at that level together).
fn latency_plot(results: &Results, path: &Path) -> Result<()> {
    let summaries = summaries(results);
    let mut lines: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for s in &summaries {
        let mut by_level: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
        for run in &s.runs {
            for level in &run.levels {
                by_level
                    .entry(level.listeners)
                    .or_default()
                    .extend(level.latencies());
            }
        }
        let points = by_level
            .into_iter()
            .filter_map(|(n, latencies)| Some((n as f64, percentile(&latencies, 95.0)?)))
            .collect();
        lines.push((s.label.clone(), points));
    }
    let max_x = lines
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(x, _)| *x))
        .fold(1.0_f64, f64::max);
    let max_y = lines
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(_, y)| *y))
        .fold(1.0_f64, f64::max)
        * 1.15;
    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("p95 block latency against offered load", (FONT, 26))
        .margin(20)
        .x_label_area_size(60)
        .y_label_area_size(80)
        .build_cartesian_2d(0.5..(max_x + 0.5), 0.0..max_y)?;
    chart
        .configure_mesh()
        .x_desc("offered load: concurrent listeners at 1×")
        .y_desc("p95 block latency, request → cached (s)")
        .x_labels(max_x as usize + 2)
        .x_label_formatter(&|x| {
            if (x - x.round()).abs() < 1e-6 {
                format!("{x:.0}")
            } else {
                String::new()
            }
        })
        .light_line_style(RGBColor(238, 238, 238))
        .axis_desc_style((FONT, 18))
        .label_style((FONT, 16))
        .draw()?;
    for (i, (label, points)) in lines.iter().enumerate() {
        let style = color(i).stroke_width(3);
        chart
            .draw_series(LineSeries::new(points.iter().copied(), style))?
            .label(label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
        chart.draw_series(points.iter().map(|&p| Circle::new(p, 5, color(i).filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font((FONT, 16))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
