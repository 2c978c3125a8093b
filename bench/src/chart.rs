//! The latency distribution of each measurement as one PNG: latency (log
//! scale) against percentile, so tails are as visible as medians.

use std::path::Path;

use plotters::prelude::*;

/// The font comes from the machine (Debian's fonts-dejavu-core, which
/// bench/run.sh installs when missing); plotters needs one for any text.
const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

pub fn draw(path: &Path, title: &str, series: &[(String, Vec<(f64, f64)>)]) -> anyhow::Result<()> {
    let font = std::fs::read(FONT).map_err(|e| anyhow::anyhow!("{FONT}: {e}"))?;
    plotters::style::register_font("sans-serif", FontStyle::Normal, Box::leak(font.into_boxed_slice()))
        .map_err(|_| anyhow::anyhow!("{FONT} is not a usable font"))?;
    let max = series.iter().flat_map(|(_, c)| c.iter().map(|(_, ms)| *ms)).fold(1.0, f64::max);
    let min = series.iter().flat_map(|(_, c)| c.iter().map(|(_, ms)| *ms)).filter(|ms| *ms > 0.0).fold(max, f64::min);

    let root = BitMapBackend::new(path, (1200, 700)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(0f64..100f64, ((min * 0.8).max(0.01)..max * 1.25).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency (ms, log scale)")
        .label_style(("sans-serif", 14))
        .draw()?;
    for (index, (name, curve)) in series.iter().enumerate() {
        let color = Palette99::pick(index).stroke_width(2);
        chart
            .draw_series(LineSeries::new(curve.iter().copied(), color))?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], Palette99::pick(index).stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(("sans-serif", 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
