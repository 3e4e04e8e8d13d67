//! The dashboard's bar charts as inline SVG: the geometry is computed here (pure, tested) and drawn by
//! `templates/console/chart.html` with presentation attributes only (the pages' Content-Security-Policy allows
//! no style, script or font from anywhere). A chart is never the only way to read its numbers: each page shows
//! them in a table as well, and each chart has a `<title>`, a `<desc>` and a title on every bar part.

/// Colours for the series, in order: dark enough for text-level contrast on white, and told apart by the legend
/// and the table, not by colour alone.
const PALETTE: [&str; 8] = ["#1f4e79", "#a0410d", "#3b6e22", "#6a2c91", "#7a5c00", "#0b6b6b", "#a50021", "#404040"];

const SLOT: i64 = 44;
const BAR: i64 = 28;
const LEFT: i64 = 36;
const TOP: i64 = 20;
const PLOT: i64 = 160;
const LABELS: i64 = 24;
const LEGEND_ROW: i64 = 18;

/// A chart ready to draw.
pub struct Chart {
    /// The prefix of the ids its `<title>` and `<desc>` carry (unique on the page).
    pub id: &'static str,
    pub title: String,
    pub desc: String,
    pub width: i64,
    pub height: i64,
    /// The y of the baseline, and the largest value the axis shows (at [`TOP`]).
    pub baseline: i64,
    pub top: i64,
    pub left: i64,
    pub max: i64,
    pub bars: Vec<Bar>,
    pub legend: Vec<Legend>,
}

/// One column: its label under it, its total over it, its parts stacked from the baseline up.
pub struct Bar {
    pub label: String,
    pub center: i64,
    pub total: i64,
    pub total_y: i64,
    pub parts: Vec<Part>,
}

pub struct Part {
    pub x: i64,
    pub y: i64,
    pub width: i64,
    pub height: i64,
    pub fill: &'static str,
    /// "series: value", read out by assistive technology and shown on hover.
    pub title: String,
}

pub struct Legend {
    pub x: i64,
    pub y: i64,
    pub fill: &'static str,
    pub label: String,
}

/// A stacked bar chart of `columns` (label, one value per series), with a legend of the series that have a
/// value when `legend` is asked for.
pub fn stacked(
    id: &'static str,
    title: String,
    desc: String,
    series: &[String],
    columns: &[(String, Vec<i64>)],
    legend: bool,
) -> Chart {
    let max = columns.iter().map(|(_, values)| values.iter().sum::<i64>()).max().unwrap_or(0).max(1);
    let baseline = TOP + PLOT;
    let y_of = |value: i64| baseline - value * PLOT / max;
    let bars = columns
        .iter()
        .enumerate()
        .map(|(i, (label, values))| {
            let x = LEFT + i as i64 * SLOT + (SLOT - BAR) / 2;
            let mut below = 0;
            let parts = values
                .iter()
                .enumerate()
                .filter(|(_, value)| **value > 0)
                .map(|(s, value)| {
                    // Cumulative edges, so that rounding leaves no gap between parts.
                    let (bottom, top) = (y_of(below), y_of(below + value));
                    below += value;
                    Part {
                        x,
                        y: top,
                        width: BAR,
                        height: bottom - top,
                        fill: PALETTE[s % PALETTE.len()],
                        title: format!("{}: {value}", series[s]),
                    }
                })
                .collect();
            let total: i64 = values.iter().sum();
            Bar { label: label.clone(), center: x + BAR / 2, total, total_y: y_of(total) - 4, parts }
        })
        .collect();
    let used: Vec<usize> =
        (0..series.len()).filter(|s| columns.iter().any(|(_, v)| v.get(*s).is_some_and(|n| *n > 0))).collect();
    let legend: Vec<Legend> = if legend {
        used.iter()
            .enumerate()
            .map(|(row, s)| Legend {
                x: LEFT,
                y: baseline + LABELS + row as i64 * LEGEND_ROW,
                fill: PALETTE[s % PALETTE.len()],
                label: series[*s].clone(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let width = LEFT + columns.len() as i64 * SLOT + 8;
    let height = baseline + LABELS + legend.len() as i64 * LEGEND_ROW + 4;
    Chart { id, title, desc, width: width.max(240), height, baseline, top: TOP, left: LEFT, max, bars, legend }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_stack_without_gaps_and_the_tallest_bar_fills_the_plot() {
        let series = vec!["a".to_owned(), "b".to_owned()];
        let columns = vec![("d1".to_owned(), vec![1, 2]), ("d2".to_owned(), vec![0, 0]), ("d3".to_owned(), vec![3, 0])];
        let chart = stacked("c", "t".into(), "d".into(), &series, &columns, true);
        assert_eq!(chart.max, 3);
        let first = &chart.bars[0];
        assert_eq!(first.total, 3);
        assert_eq!(first.parts.len(), 2);
        assert_eq!(first.parts[0].y + first.parts[0].height, chart.baseline, "the first part stands on the baseline");
        assert_eq!(first.parts[1].y + first.parts[1].height, first.parts[0].y, "the second on the first");
        assert_eq!(first.parts[1].y, TOP, "the tallest total reaches the top");
        assert!(chart.bars[1].parts.is_empty(), "a zero draws nothing");
        assert_eq!(chart.bars[2].parts[0].title, "a: 3");
        assert_eq!(chart.legend.len(), 2);
    }

    #[test]
    fn an_empty_chart_still_has_a_scale_and_only_used_series_in_its_legend() {
        let series = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let columns = vec![("d1".to_owned(), vec![0, 0, 0])];
        let chart = stacked("c", "t".into(), "d".into(), &series, &columns, true);
        assert_eq!(chart.max, 1);
        assert!(chart.legend.is_empty(), "no series has a value");
        let columns = vec![("d1".to_owned(), vec![0, 2, 0])];
        let chart = stacked("c", "t".into(), "d".into(), &series, &columns, true);
        assert_eq!(chart.legend.iter().map(|l| l.label.as_str()).collect::<Vec<_>>(), ["b"]);
    }
}
