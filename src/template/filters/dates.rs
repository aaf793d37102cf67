//! Dates.

use super::*;

/// Days since 1970-01-01 to (year, month, day) (Howard Hinnant's civil_from_days).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Python's `strftime` for a UTC timestamp (the common directives).
pub(crate) fn format_utc(format: &str, secs: f64) -> String {
    let total = secs.floor() as i64;
    let days = total.div_euclid(86_400);
    let rem = total.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    let weekday = (days + 4).rem_euclid(7); // 0 = Sunday
    let is_leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let cum = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let yday = cum[(m - 1) as usize] + d as i64 + if is_leap && m > 2 { 1 } else { 0 };
    let days_full = [
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
    ];
    let months = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(spec) = chars.next() else {
            out.push('%');
            break;
        };
        match spec {
            'Y' => {
                let _ = write!(out, "{y}");
            }
            'y' => {
                let _ = write!(out, "{:02}", y.rem_euclid(100));
            }
            'C' => {
                let _ = write!(out, "{:02}", y.div_euclid(100));
            }
            'm' => {
                let _ = write!(out, "{m:02}");
            }
            'd' => {
                let _ = write!(out, "{d:02}");
            }
            'e' => {
                let _ = write!(out, "{d:2}");
            }
            'H' => {
                let _ = write!(out, "{hh:02}");
            }
            'I' => {
                let _ = write!(out, "{:02}", if hh % 12 == 0 { 12 } else { hh % 12 });
            }
            'p' => out.push_str(if hh < 12 { "AM" } else { "PM" }),
            'M' => {
                let _ = write!(out, "{mm:02}");
            }
            'S' => {
                let _ = write!(out, "{ss:02}");
            }
            // `time.strftime` (what ansible-core 2.19 calls) knows no `%f`.
            'f' => out.push_str("%f"),
            'j' => {
                let _ = write!(out, "{yday:03}");
            }
            'a' => out.push_str(&days_full[weekday as usize][..3]),
            'A' => out.push_str(days_full[weekday as usize]),
            'w' => {
                let _ = write!(out, "{weekday}");
            }
            'u' => {
                let _ = write!(out, "{}", if weekday == 0 { 7 } else { weekday });
            }
            'b' | 'h' => out.push_str(&months[(m - 1) as usize][..3]),
            'B' => out.push_str(months[(m - 1) as usize]),
            's' => {
                let _ = write!(out, "{total}");
            }
            'z' => out.push_str("+0000"),
            'Z' => out.push_str("GMT"),
            'F' => {
                let _ = write!(out, "{y}-{m:02}-{d:02}");
            }
            'T' => {
                let _ = write!(out, "{hh:02}:{mm:02}:{ss:02}");
            }
            'R' => {
                let _ = write!(out, "{hh:02}:{mm:02}");
            }
            'D' => {
                let _ = write!(out, "{m:02}/{d:02}/{:02}", y.rem_euclid(100));
            }
            'c' => {
                let _ = write!(
                    out,
                    "{} {} {d:2} {hh:02}:{mm:02}:{ss:02} {y}",
                    &days_full[weekday as usize][..3],
                    &months[(m - 1) as usize][..3]
                );
            }
            'x' => {
                let _ = write!(out, "{m:02}/{d:02}/{:02}", y.rem_euclid(100));
            }
            'X' => {
                let _ = write!(out, "{hh:02}:{mm:02}:{ss:02}");
            }
            'n' => out.push('\n'),
            't' => out.push('\t'),
            '%' => out.push('%'),
            other => {
                out.push('%');
                out.push(other);
            }
        }
    }
    out
}

/// Ansible's `now(utc=False, fmt=None)` global: the time as text (UTC, see `strftime`).
pub(crate) fn now(args: Rest<ValueOrKwargs>) -> Result<String, Error> {
    let mut p = Params::new("now", args);
    let _utc = p.take("utc");
    let fmt = opt_string(p.take("fmt"));
    p.finish()?;
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Ok(match fmt {
        Some(f) => format_utc(&f, t.as_secs_f64()),
        None => format!(
            "{}.{:06}",
            format_utc("%Y-%m-%d %H:%M:%S", t.as_secs() as f64),
            t.subsec_micros()
        ),
    })
}

/// `strftime(second=None, utc=False)`; times are rendered in UTC (see the module notes).
pub(crate) fn strftime(value: &Value, args: Rest<ValueOrKwargs>) -> Result<String, Error> {
    let mut p = Params::new("strftime", args);
    let second = p.take("second");
    let _utc = p.take("utc");
    p.finish()?;
    defined(value, "strftime")?;
    let secs = match second {
        Some(s) if !s.is_none() => match s.as_str() {
            Some(t) => parse_py_float(t),
            None => as_f64(&s),
        }
        .ok_or_else(|| fail(format!("Invalid value for epoch value ({})", py_str(&s))))?,
        _ => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64(),
    };
    Ok(format_utc(&py_str(value), secs))
}
