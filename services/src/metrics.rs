//! Prometheus metrics, rendered in the text exposition format at `/metrics`: request count and
//! latency histogram by route, method and status, and database pool gauges. A small registry of
//! our own (atomics behind a read-mostly lock) keeps the hot path to a hash lookup and a few
//! atomic adds, and needs no process-wide recorder.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SeriesKey {
    route: String,
    method: String,
    status: u16,
}

#[derive(Debug, Default)]
struct Series {
    count: AtomicU64,
    sum_micros: AtomicU64,
    buckets: [AtomicU64; BUCKETS.len()],
}

/// Named counters other modules bump (deliveries, releases, …): name → labels → value.
type Counters = HashMap<(&'static str, String), Arc<AtomicU64>>;

#[derive(Debug, Default)]
pub struct Metrics {
    requests: RwLock<HashMap<SeriesKey, Arc<Series>>>,
    counters: RwLock<Counters>,
    /// Named histograms without labels (audit time to integrate, …): name → (help, series).
    histograms: RwLock<HashMap<&'static str, (&'static str, Arc<Series>)>>,
    /// Named gauges: (name, labels) → value.
    gauges: RwLock<HashMap<(&'static str, String), i64>>,
    /// Named histograms with labels and bucket bounds of their own (`observe_in`).
    labelled: RwLock<HashMap<(&'static str, String), Arc<Histogram>>>,
}

/// One labelled histogram with its own bucket bounds (seconds).
#[derive(Debug)]
struct Histogram {
    help: &'static str,
    bounds: &'static [f64],
    buckets: Vec<AtomicU64>,
    count: AtomicU64,
    sum_micros: AtomicU64,
}

/// One observation of `seconds` into a histogram's count, sum and first bucket whose upper bound
/// holds it (a negative time counts as zero).
fn record(
    count: &AtomicU64,
    sum_micros: &AtomicU64,
    buckets: &[AtomicU64],
    bounds: &[f64],
    seconds: f64,
) {
    count.fetch_add(1, Ordering::Relaxed);
    sum_micros.fetch_add((seconds.max(0.0) * 1e6) as u64, Ordering::Relaxed);
    if let Some(i) = bounds.iter().position(|b| seconds <= *b) {
        buckets[i].fetch_add(1, Ordering::Relaxed);
    }
}

impl Metrics {
    pub fn observe_request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let key = SeriesKey {
            route: route.to_owned(),
            method: method.to_owned(),
            status,
        };
        let series = self.series(key);
        record(
            &series.count,
            &series.sum_micros,
            &series.buckets,
            &BUCKETS,
            seconds,
        );
    }

    fn series(&self, key: SeriesKey) -> Arc<Series> {
        if let Ok(map) = self.requests.read()
            && let Some(series) = map.get(&key)
        {
            return series.clone();
        }
        match self.requests.write() {
            Ok(mut map) => map.entry(key).or_default().clone(),
            Err(_) => Arc::new(Series::default()),
        }
    }

    /// Adds one to a named counter with a label set such as `department="x",outcome="ok"`.
    /// Labels must never carry personal data.
    pub fn inc(&self, name: &'static str, labels: String) {
        if let Ok(map) = self.counters.read()
            && let Some(c) = map.get(&(name, labels.clone()))
        {
            c.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if let Ok(mut map) = self.counters.write() {
            map.entry((name, labels))
                .or_default()
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Observes `seconds` in the named histogram (the same buckets as request latency).
    pub fn observe(&self, name: &'static str, help: &'static str, seconds: f64) {
        let series = match self
            .histograms
            .read()
            .ok()
            .and_then(|m| m.get(name).cloned())
        {
            Some((_, series)) => series,
            None => match self.histograms.write() {
                Ok(mut map) => map
                    .entry(name)
                    .or_insert_with(|| (help, Arc::default()))
                    .1
                    .clone(),
                Err(_) => return,
            },
        };
        record(
            &series.count,
            &series.sum_micros,
            &series.buckets,
            &BUCKETS,
            seconds,
        );
    }

    /// Observes `seconds` in the named histogram with a label set (never personal data) and the
    /// bucket upper bounds `bounds` (ascending; the first call for a name fixes them).
    pub fn observe_in(
        &self,
        name: &'static str,
        help: &'static str,
        bounds: &'static [f64],
        labels: String,
        seconds: f64,
    ) {
        let key = (name, labels);
        let found = self.labelled.read().ok().and_then(|m| m.get(&key).cloned());
        let series = match found {
            Some(series) => series,
            None => match self.labelled.write() {
                Ok(mut map) => map
                    .entry(key)
                    .or_insert_with(|| {
                        Arc::new(Histogram {
                            help,
                            bounds,
                            buckets: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
                            count: AtomicU64::new(0),
                            sum_micros: AtomicU64::new(0),
                        })
                    })
                    .clone(),
                Err(_) => return,
            },
        };
        record(
            &series.count,
            &series.sum_micros,
            &series.buckets,
            series.bounds,
            seconds,
        );
    }

    /// Sets a named gauge with a label set (never personal data); `""` for none.
    pub fn set_gauge(&self, name: &'static str, labels: String, value: i64) {
        if let Ok(mut map) = self.gauges.write() {
            map.insert((name, labels), value);
        }
    }

    /// The exposition text; `pool` is (open connections, idle connections).
    pub fn render(&self, pool: (u32, usize)) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str("# HELP broker_http_requests_total HTTP requests handled.\n");
        out.push_str("# TYPE broker_http_requests_total counter\n");
        let snapshot: Vec<(SeriesKey, Arc<Series>)> = match self.requests.read() {
            Ok(map) => map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            Err(_) => Vec::new(),
        };
        for (key, series) in &snapshot {
            let _ = writeln!(
                out,
                "broker_http_requests_total{{{}}} {}",
                labels(key),
                series.count.load(Ordering::Relaxed)
            );
        }
        out.push_str("# HELP broker_http_request_duration_seconds HTTP request latency.\n");
        out.push_str("# TYPE broker_http_request_duration_seconds histogram\n");
        for (key, series) in &snapshot {
            let l = labels(key);
            let mut cumulative = 0;
            for (i, bound) in BUCKETS.iter().enumerate() {
                cumulative += series.buckets[i].load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "broker_http_request_duration_seconds_bucket{{{l},le=\"{bound}\"}} {cumulative}"
                );
            }
            let count = series.count.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "broker_http_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} {count}"
            );
            let sum = series.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(out, "broker_http_request_duration_seconds_sum{{{l}}} {sum}");
            let _ = writeln!(
                out,
                "broker_http_request_duration_seconds_count{{{l}}} {count}"
            );
        }
        out.push_str("# HELP broker_db_pool_connections Open database connections.\n");
        out.push_str("# TYPE broker_db_pool_connections gauge\n");
        let _ = writeln!(out, "broker_db_pool_connections {}", pool.0);
        out.push_str("# HELP broker_db_pool_idle_connections Idle database connections.\n");
        out.push_str("# TYPE broker_db_pool_idle_connections gauge\n");
        let _ = writeln!(out, "broker_db_pool_idle_connections {}", pool.1);
        let mut counters: Vec<((&'static str, String), u64)> = match self.counters.read() {
            Ok(map) => map
                .iter()
                .map(|(k, v)| (k.clone(), v.load(Ordering::Relaxed)))
                .collect(),
            Err(_) => Vec::new(),
        };
        counters.sort();
        let mut last = "";
        for ((name, labels), value) in &counters {
            if *name != last {
                let _ = writeln!(out, "# TYPE {name} counter");
                last = name;
            }
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
        self.render_named(&mut out);
        out
    }

    fn render_named(&self, out: &mut String) {
        let mut histograms: Vec<(&'static str, &'static str, Arc<Series>)> =
            match self.histograms.read() {
                Ok(map) => map.iter().map(|(n, (h, s))| (*n, *h, s.clone())).collect(),
                Err(_) => Vec::new(),
            };
        histograms.sort_by_key(|(n, _, _)| *n);
        for (name, help, series) in histograms {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} histogram");
            let mut cumulative = 0;
            for (i, bound) in BUCKETS.iter().enumerate() {
                cumulative += series.buckets[i].load(Ordering::Relaxed);
                let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
            }
            let count = series.count.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
            let sum = series.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(out, "{name}_sum {sum}");
            let _ = writeln!(out, "{name}_count {count}");
        }
        self.render_labelled(out);
        let mut gauges: Vec<((&'static str, String), i64)> = match self.gauges.read() {
            Ok(map) => map.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            Err(_) => Vec::new(),
        };
        gauges.sort();
        let mut last = "";
        for ((name, labels), value) in &gauges {
            if *name != last {
                let _ = writeln!(out, "# TYPE {name} gauge");
                last = name;
            }
            if labels.is_empty() {
                let _ = writeln!(out, "{name} {value}");
            } else {
                let _ = writeln!(out, "{name}{{{labels}}} {value}");
            }
        }
    }
}

impl Metrics {
    fn render_labelled(&self, out: &mut String) {
        let mut histograms: Vec<((&'static str, String), Arc<Histogram>)> =
            match self.labelled.read() {
                Ok(map) => map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                Err(_) => Vec::new(),
            };
        histograms.sort_by(|a, b| a.0.cmp(&b.0));
        let mut last = "";
        for ((name, labels), series) in histograms {
            if name != last {
                let _ = writeln!(out, "# HELP {name} {}", series.help);
                let _ = writeln!(out, "# TYPE {name} histogram");
                last = name;
            }
            let sep = if labels.is_empty() { "" } else { "," };
            let mut cumulative = 0;
            for (i, bound) in series.bounds.iter().enumerate() {
                cumulative += series.buckets[i].load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}"
                );
            }
            let count = series.count.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
            let sum = series.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
            let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
        }
    }
}

/// A label value as the exposition format wants it (backslash, quote and newline escaped).
pub fn label_value(v: &str) -> String {
    escape(v)
}

fn labels(key: &SeriesKey) -> String {
    format!(
        "route=\"{}\",method=\"{}\",status=\"{}\"",
        escape(&key.route),
        escape(&key.method),
        key.status
    )
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative_and_counts_match() {
        let m = Metrics::default();
        m.observe_request("/a/{id}", "GET", 200, 0.0007);
        m.observe_request("/a/{id}", "GET", 200, 0.2);
        m.observe_request("/a/{id}", "GET", 404, 0.0001);
        let text = m.render((3, 1));
        assert!(text.contains(
            r#"broker_http_requests_total{route="/a/{id}",method="GET",status="200"} 2"#
        ));
        assert!(text.contains(
            r#"broker_http_requests_total{route="/a/{id}",method="GET",status="404"} 1"#
        ));
        assert!(text.contains(r#"broker_http_request_duration_seconds_bucket{route="/a/{id}",method="GET",status="200",le="0.001"} 1"#));
        assert!(text.contains(r#"broker_http_request_duration_seconds_bucket{route="/a/{id}",method="GET",status="200",le="0.25"} 2"#));
        assert!(text.contains(r#"broker_http_request_duration_seconds_bucket{route="/a/{id}",method="GET",status="200",le="+Inf"} 2"#));
        assert!(text.contains("broker_db_pool_connections 3"));
        assert!(text.contains("broker_db_pool_idle_connections 1"));
    }

    #[test]
    fn labelled_histograms_keep_their_own_buckets() {
        let m = Metrics::default();
        const BOUNDS: &[f64] = &[1.0, 60.0];
        m.observe_in("t_seconds", "test.", BOUNDS, "d=\"a\"".into(), 0.5);
        m.observe_in("t_seconds", "test.", BOUNDS, "d=\"a\"".into(), 30.0);
        m.observe_in("t_seconds", "test.", BOUNDS, "d=\"a\"".into(), 600.0);
        let text = m.render((0, 0));
        assert!(
            text.contains("t_seconds_bucket{d=\"a\",le=\"1\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("t_seconds_bucket{d=\"a\",le=\"60\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("t_seconds_bucket{d=\"a\",le=\"+Inf\"} 3"),
            "{text}"
        );
        assert!(text.contains("t_seconds_count{d=\"a\"} 3"), "{text}");
        assert_eq!(text.matches("# TYPE t_seconds histogram").count(), 1);
    }

    #[test]
    fn named_counters_render_with_labels() {
        let m = Metrics::default();
        m.inc("broker_releases_total", "outcome=\"permit\"".into());
        m.inc("broker_releases_total", "outcome=\"permit\"".into());
        assert!(
            m.render((0, 0))
                .contains("broker_releases_total{outcome=\"permit\"} 2")
        );
    }
}
