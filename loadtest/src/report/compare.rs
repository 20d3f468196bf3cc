//! Ours next to ejabberd: the figures both runs have, their ratio, and
//! which side is ahead.

use super::Report;

/// Whether a larger value of a figure is better.
pub fn higher_is_better(name: &str) -> Option<bool> {
    if name.starts_with("target_") || name.starts_with("setup_") {
        None
    } else if name.ends_with("_per_sec") || name.ends_with("_ready") || name.ends_with("_held") {
        Some(true)
    } else if name.ends_with("_ms")
        || name.ends_with("_pct")
        || name.ends_with("_kib")
        || name.ends_with("_mib")
        || name.ends_with("_secs")
        || name.ends_with("_failures")
    {
        Some(false)
    } else {
        None
    }
}

/// One line of the comparison.
#[derive(Debug, Clone)]
pub struct Line {
    /// The figure.
    pub figure: String,
    /// Our value.
    pub ours: f64,
    /// ejabberd's value.
    pub theirs: f64,
    /// ours ÷ theirs (`None` when theirs is 0).
    pub ratio: Option<f64>,
    /// `ours`, `ejabberd`, `even`, or empty when the figure has no direction.
    pub ahead: &'static str,
}

/// The comparison of the `chat` and `ejabberd` runs, if both are there.
pub fn lines(report: &Report) -> Vec<Line> {
    let ours = report.runs.iter().find(|r| r.target == "chat");
    let theirs = report.runs.iter().find(|r| r.target == "ejabberd");
    let (Some(ours), Some(theirs)) = (ours, theirs) else {
        return Vec::new();
    };
    ours.figures
        .iter()
        .filter_map(|(name, &a)| {
            let &b = theirs.figures.get(name)?;
            let ratio = (b != 0.0).then(|| a / b);
            let ahead = match higher_is_better(name) {
                None => "",
                Some(_) if (a - b).abs() <= 0.02 * a.abs().max(b.abs()) => "even",
                Some(true) if a > b => "ours",
                Some(false) if a < b => "ours",
                Some(_) => "ejabberd",
            };
            Some(Line {
                figure: name.clone(),
                ours: a,
                theirs: b,
                ratio,
                ahead,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions_follow_the_unit() {
        assert_eq!(higher_is_better("delivered_p99_ms"), Some(false));
        assert_eq!(higher_is_better("deliveries_per_sec"), Some(true));
        assert_eq!(higher_is_better("devices"), None);
        assert_eq!(higher_is_better("target_rate_per_sec"), None);
    }
}
