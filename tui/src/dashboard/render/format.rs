//! Number and text formatting for narrow table cells.

/// Seconds as `hh:mm:ss` (hours grow past 99 if they must); negative and non-finite
/// values show as `--:--:--`.
pub fn fmt_hms(s: f64) -> String {
    if !s.is_finite() || s < 0.0 {
        return "--:--:--".to_owned();
    }
    let total = s.floor() as u64;
    format!(
        "{:02}:{:02}:{:02}",
        total / 3600,
        (total / 60) % 60,
        total % 60
    )
}

/// A latency in milliseconds in at most 7 characters: two decimals below 10 ms, one below
/// 1 s, whole milliseconds below 100 s, then seconds.
pub fn fmt_ms(ms: f64) -> String {
    if !ms.is_finite() {
        return "-".to_owned();
    }
    if ms < 10.0 {
        format!("{ms:.2}")
    } else if ms < 1000.0 {
        format!("{ms:.1}")
    } else if ms < 100_000.0 {
        format!("{ms:.0}")
    } else {
        format!("{:.0}s", ms / 1000.0)
    }
}

/// A count in at most 7 characters: exact below a million, then `1.23M`, `4.56G`.
pub fn fmt_count(n: u64) -> String {
    if n < 1_000_000 {
        n.to_string()
    } else if n < 1_000_000_000 {
        format!("{:.2}M", n as f64 / 1e6)
    } else {
        format!("{:.2}G", n as f64 / 1e9)
    }
}

/// An optional value with `decimals` decimals, or `-`.
pub fn fmt_opt(v: Option<f64>, decimals: usize) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v:.decimals$}"),
        _ => "-".to_owned(),
    }
}

/// `text` cut to `width` characters, with `…` when something was cut.
pub fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = text.chars().take(width - 1).collect();
    out.push('…');
    out
}

/// A horizontal bar `width` cells wide, filled to `fraction` (0..1) with eighth blocks.
pub fn bar(fraction: f64, width: usize) -> String {
    const EIGHTHS: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    let fraction = if fraction.is_finite() {
        fraction.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let eighths = (fraction * width as f64 * 8.0).round() as usize;
    let full = eighths / 8;
    let mut out = "█".repeat(full.min(width));
    if full < width {
        let part = EIGHTHS[eighths % 8];
        out.push(if part == ' ' { '·' } else { part });
        out.extend(std::iter::repeat_n('·', width - full - 1));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hms_and_ms() {
        assert_eq!(fmt_hms(0.0), "00:00:00");
        assert_eq!(fmt_hms(3723.9), "01:02:03");
        assert_eq!(fmt_hms(f64::NAN), "--:--:--");
        assert_eq!(fmt_ms(0.123), "0.12");
        assert_eq!(fmt_ms(12.34), "12.3");
        assert_eq!(fmt_ms(1234.5), "1234");
        assert_eq!(fmt_ms(250_000.0), "250s");
        assert_eq!(fmt_count(999_999), "999999");
        assert_eq!(fmt_count(1_234_567), "1.23M");
    }

    #[test]
    fn bars_fill_in_eighths() {
        assert_eq!(bar(0.0, 4), "····");
        assert_eq!(bar(1.0, 4), "████");
        assert_eq!(bar(0.5, 4), "██··");
        assert_eq!(bar(0.625, 4), "██▌·");
        assert_eq!(bar(0.5 + 1.0 / 32.0, 4), "██▏·");
        assert_eq!(bar(f64::NAN, 2), "··");
    }

    #[test]
    fn truncation_marks_the_cut() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
        assert_eq!(truncate("abc", 0), "");
    }
}
