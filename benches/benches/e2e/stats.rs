//! Statistics over the runs of one (workload, system): medians of every numeric field, the
//! worst run for lost, torn and duplicated lines, and the smallest share kept.

use serde_json::{json, Value};

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

pub(crate) fn num(v: &Value, key: &str) -> f64 {
    v.get(key).and_then(Value::as_f64).unwrap_or(f64::NAN)
}

/// Medians of the numeric fields over runs; `lost`, `torn`, `duplicates` and
/// `close_all_errors` are the worst run (a lossless system must have 0 in every run).
pub(crate) fn summarize(runs: &[Value]) -> Value {
    let mut out = serde_json::Map::new();
    let Some(first) = runs.first().and_then(Value::as_object) else {
        return Value::Object(out);
    };
    for (key, v) in first {
        if !v.is_number() {
            out.insert(key.clone(), v.clone());
            continue;
        }
        let values: Vec<f64> = runs.iter().map(|r| num(r, key)).collect();
        let worst = matches!(
            key.as_str(),
            "lost" | "torn" | "duplicates" | "close_all_errors"
        );
        let x = if worst {
            values.iter().copied().fold(0.0, f64::max)
        } else {
            median(values)
        };
        out.insert(key.clone(), json!(x));
    }
    if let Some(kept) = runs
        .iter()
        .map(|r| num(r, "kept_pct"))
        .reduce(f64::min)
        .filter(|k| k.is_finite())
    {
        out.insert("kept_pct_min".into(), json!(kept));
    }
    out.insert("runs".into(), json!(runs.len()));
    Value::Object(out)
}
