//! Numbers.

use super::*;

pub(crate) fn number_arg(v: &Value, what: &str) -> Result<f64, Error> {
    defined(v, what)?;
    as_f64(v).ok_or_else(|| fail(format!("{what}() can only be used on numbers")))
}

pub(crate) fn log(value: &Value, base: Option<Value>) -> Result<f64, Error> {
    let x = number_arg(value, "log")?;
    match base {
        None => Ok(x.ln()),
        Some(b) => {
            let b = number_arg(&b, "log")?;
            Ok(if b == 10.0 {
                x.log10()
            } else {
                x.ln() / b.ln()
            })
        }
    }
}

pub(crate) fn pow(value: &Value, y: &Value) -> Result<f64, Error> {
    Ok(number_arg(value, "pow")?.powf(number_arg(y, "pow")?))
}

pub(crate) fn root(value: &Value, base: Option<Value>) -> Result<f64, Error> {
    let x = number_arg(value, "root")?;
    let b = match base {
        Some(b) => number_arg(&b, "root")?,
        None => 2.0,
    };
    if b == 2.0 {
        if x < 0.0 {
            return Err(fail(
                "root() can only be used on numbers: math domain error",
            ));
        }
        Ok(x.sqrt())
    } else {
        Ok(x.powf(1.0 / b))
    }
}

pub(crate) const SIZE_RANGES: [(char, u128); 9] = [
    ('Y', 1 << 80),
    ('Z', 1 << 70),
    ('E', 1 << 60),
    ('P', 1 << 50),
    ('T', 1 << 40),
    ('G', 1 << 30),
    ('M', 1 << 20),
    ('K', 1 << 10),
    ('B', 1),
];

/// `human_readable(isbits=False, unit=None)`: `"1.00 KB"`.
pub(crate) fn human_readable(value: &Value, args: Rest<ValueOrKwargs>) -> Result<String, Error> {
    let mut p = Params::new("human_readable", args);
    let isbits = opt_bool(p.take("isbits"), false);
    let unit = opt_string(p.take("unit"));
    p.finish()?;
    defined(value, "human_readable")?;
    let size = match value.as_str() {
        Some(s) => parse_py_float(s),
        None => as_f64(value),
    }
    .ok_or_else(|| {
        fail(format!(
            "human_readable() can't interpret following string: {}",
            py_str(value)
        ))
    })?;
    let base = if isbits { "bits" } else { "Bytes" };
    let mut chosen = SIZE_RANGES[SIZE_RANGES.len() - 1];
    for (suffix, limit) in SIZE_RANGES {
        chosen = (suffix, limit);
        let hit = match &unit {
            None => size >= limit as f64,
            Some(u) => u.to_uppercase().starts_with(suffix),
        };
        if hit {
            break;
        }
    }
    let (suffix, limit) = chosen;
    let suffix = if limit != 1 {
        format!("{suffix}{}", &base[..1])
    } else {
        base.to_string()
    };
    Ok(format!("{:.2} {suffix}", size / limit as f64))
}

/// `human_to_bytes(default_unit=None, isbits=False)`: `"1 KB"` -> 1024.
pub(crate) fn human_to_bytes(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    use std::sync::OnceLock;
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    let mut p = Params::new("human_to_bytes", args);
    let default_unit = opt_string(p.take("default_unit"));
    let isbits = opt_bool(p.take("isbits"), false);
    p.finish()?;
    defined(value, "human_to_bytes")?;
    let text = py_str(value);
    let re = RE.get_or_init(|| {
        regex::Regex::new(r"^([0-9]*\.?[0-9]+)(?:\s*([A-Za-z]+))?\s*$").expect("valid regex")
    });
    let bad = || {
        fail(format!(
            "human_to_bytes() can't interpret following string: {text}"
        ))
    };
    let caps = re.captures(&text).ok_or_else(bad)?;
    let num: f64 = caps[1].parse().map_err(|_| bad())?;
    let unit = caps.get(2).map(|m| m.as_str().to_string()).or(default_unit);
    let Some(unit) = unit else {
        return Ok(Value::from(num.round_ties_even() as i64));
    };
    let range_key = unit.chars().next().unwrap_or('B').to_ascii_uppercase();
    let limit = SIZE_RANGES
        .iter()
        .find(|(s, _)| *s == range_key)
        .map(|(_, l)| *l)
        .ok_or_else(|| fail(format!("human_to_bytes() failed to convert {text} (unit = {unit}). The suffix must be one of Y, Z, E, P, T, G, M, K, B")))?;
    if unit.chars().count() > 1 {
        let names = [
            "byte",
            "kilobyte",
            "megabyte",
            "gigabyte",
            "terabyte",
            "petabyte",
            "exabyte",
            "zetabyte",
            "yottabyte",
        ];
        let keys = ['B', 'K', 'M', 'G', 'T', 'P', 'E', 'Z', 'Y'];
        let idx = keys.iter().position(|k| *k == range_key).unwrap_or(0);
        let (long, short) = if isbits {
            (
                names[idx].replace("byte", "bit"),
                if range_key == 'B' {
                    "b".to_string()
                } else {
                    format!("{range_key}b")
                },
            )
        } else {
            (
                names[idx].to_string(),
                if range_key == 'B' {
                    "B".to_string()
                } else {
                    format!("{range_key}B")
                },
            )
        };
        if unit.to_lowercase() != long && unit != short {
            let class = if isbits { 'b' } else { 'B' };
            let expect = if range_key == 'B' {
                format!("expect {class} or {}", if isbits { "bit" } else { "byte" })
            } else {
                format!("expect {range_key}{class} or {range_key}")
            };
            return Err(fail(format!(
                "human_to_bytes() failed to convert {text}. Value is not a valid string ({expect})"
            )));
        }
    }
    Ok(Value::from((num * limit as f64).round_ties_even() as i64))
}
