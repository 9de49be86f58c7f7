//! The scenarios of the side-by-side run, their sizes, and how each result is read.

use serde_json::Value;

use crate::blaster::Stream;

/// Where the drivers connect for a case.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    Blaster(Stream),
    Centrifugo,
}

/// What a case reports, read from a driver's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Client CPU µs per publication (lower is better); also publications/s.
    CpuPerPublication,
    /// Median round trip µs (lower is better); also p99.
    MedianRoundTrip,
    /// Publishes/s (higher is better).
    Throughput,
    /// Seconds until every subscription is subscribed (lower is better); also RSS growth.
    SubscribeAll,
    /// Wake-ups per second per idle client (lower is better); also RSS per client, threads.
    Idle,
}

impl Metric {
    /// The fields of a driver's result this metric reads; a result without one of them is a
    /// failed run (see [`Case::check`]).
    pub fn required(self) -> &'static [&'static str] {
        match self {
            Metric::CpuPerPublication => &["cpu_s", "wall_s"],
            Metric::MedianRoundTrip => &["p50_us", "p99_us"],
            Metric::Throughput => &["wall_s"],
            Metric::SubscribeAll => &["wall_s", "rss_kib", "rss_base_kib"],
            Metric::Idle => &["wakeups", "rss_kib", "rss_base_kib"],
        }
    }

    /// The headline value. Counts, clients and seconds are the ones the case asked for, never
    /// the driver's own (which [`Case::check`] compares with them).
    pub fn headline(self, result: &Value, case: &Case) -> Option<f64> {
        let field = |name: &str| result.get(name).and_then(Value::as_f64);
        let asked = |name: &str| case.requested(name);
        match self {
            Metric::CpuPerPublication => Some(field("cpu_s")? / asked("count")? * 1e6),
            Metric::MedianRoundTrip => field("p50_us"),
            Metric::Throughput => Some(asked("count")? / field("wall_s")?),
            Metric::SubscribeAll => field("wall_s"),
            Metric::Idle => Some(field("wakeups")? / asked("seconds")? / asked("clients")?),
        }
    }

    /// The secondary value shown in parentheses.
    pub fn secondary(self, result: &Value, case: &Case) -> Option<f64> {
        let field = |name: &str| result.get(name).and_then(Value::as_f64);
        let asked = |name: &str| case.requested(name);
        match self {
            Metric::CpuPerPublication => Some(asked("count")? / field("wall_s")?),
            Metric::MedianRoundTrip => field("p99_us"),
            Metric::Throughput => None,
            Metric::SubscribeAll => Some((field("rss_kib")? - field("rss_base_kib")?) / 1024.0),
            Metric::Idle => Some((field("rss_kib")? - field("rss_base_kib")?) / asked("clients")?),
        }
    }

    pub fn lower_is_better(self) -> bool {
        self != Metric::Throughput
    }

    /// Column heading: the headline, then the secondary value.
    pub fn heading(self) -> (&'static str, Option<&'static str>) {
        match self {
            Metric::CpuPerPublication => ("CPU µs/pub", Some("pubs/s")),
            Metric::MedianRoundTrip => ("p50 µs", Some("p99 µs")),
            Metric::Throughput => ("publishes/s", None),
            Metric::SubscribeAll => ("seconds", Some("RSS MiB")),
            Metric::Idle => ("wake-ups/s per client", Some("RSS KiB per client")),
        }
    }
}

/// One row group of the report.
#[derive(Clone, Debug)]
pub struct Case {
    /// "P1" … "P5".
    pub id: &'static str,
    pub title: String,
    pub scenario: &'static str,
    /// Driver arguments besides `url` and `format`.
    pub args: Vec<String>,
    pub target: Target,
    /// For ingest from Centrifugo: publish this many payloads of this size after `READY`.
    pub publish: Option<(usize, u64)>,
    pub metric: Metric,
    pub repetitions: usize,
}

/// The sizes a case asks for that a driver also reports back.
const SIZES: [&str; 4] = ["count", "channels", "clients", "seconds"];

impl Case {
    /// A number the case asks for (`count=`, `clients=`, …), from its arguments.
    pub fn requested(&self, key: &str) -> Option<f64> {
        self.args.iter().find_map(|arg| arg.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
    }

    /// Whether a driver's result can be used: every field the metric reads is a number, and
    /// every size it reports is the size asked for. Anything else is a failed run, shown as
    /// such, not a value left out.
    pub fn check(&self, result: &Value) -> Result<(), String> {
        let missing: Vec<&str> = self
            .metric
            .required()
            .iter()
            .copied()
            .filter(|name| result.get(*name).and_then(Value::as_f64).is_none())
            .collect();
        if !missing.is_empty() {
            return Err(format!("RESULT lacks {}", missing.join(", ")));
        }
        for key in SIZES {
            if let (Some(asked), Some(reported)) =
                (self.requested(key), result.get(key).and_then(Value::as_f64))
                && asked != reported
            {
                return Err(format!("RESULT reports {key} {reported}, the case asked for {asked}"));
            }
        }
        Ok(())
    }
}

/// Every case, full-size or (`quick`) just big enough to show that the harness works.
pub fn all(quick: bool) -> Vec<Case> {
    let pick = |full: u64, small: u64| if quick { small } else { full };
    let reps = if quick { 1 } else { 3 };
    let mut cases = Vec::new();
    for (payload, full_count, small_count) in [(100, 200_000, 2_000), (4096, 50_000, 500)] {
        let count = pick(full_count, small_count);
        cases.push(Case {
            id: "P1",
            title: format!("ingest, {} payloads, from the blaster", size(payload)),
            scenario: "ingest",
            args: vec!["channel=bench".into(), format!("count={count}")],
            target: Target::Blaster(Stream { payload, count, per_frame: 16 }),
            publish: None,
            metric: Metric::CpuPerPublication,
            repetitions: reps,
        });
    }
    for (payload, full_count, small_count) in [(100, 20_000, 500), (4096, 5_000, 200)] {
        let count = pick(full_count, small_count);
        cases.push(Case {
            id: "P1",
            title: format!("ingest, {} payloads, from Centrifugo", size(payload)),
            scenario: "ingest",
            args: vec!["channel=ingest".into(), format!("count={count}")],
            target: Target::Centrifugo,
            publish: Some((payload, count)),
            metric: Metric::CpuPerPublication,
            repetitions: reps,
        });
    }
    for op in ["rpc", "publish"] {
        cases.push(Case {
            id: "P2",
            title: format!("sequential {op} round trips"),
            scenario: "roundtrip",
            args: vec![format!("op={op}"), "channel=roundtrip".into(), format!("count={}", pick(5_000, 200))],
            target: Target::Centrifugo,
            publish: None,
            metric: Metric::MedianRoundTrip,
            repetitions: reps,
        });
    }
    cases.push(Case {
        id: "P3",
        title: "publishes from 8 threads (or tasks) on one client".into(),
        scenario: "pipelined",
        args: vec!["channel=pipelined".into(), "workers=8".into(), format!("count={}", pick(20_000, 400))],
        target: Target::Centrifugo,
        publish: None,
        metric: Metric::Throughput,
        repetitions: reps,
    });
    cases.push(Case {
        id: "P4",
        title: format!("subscribe {} channels on one client", pick(10_000, 200)),
        scenario: "fanin",
        args: vec!["prefix=fanin-".into(), format!("channels={}", pick(10_000, 200))],
        target: Target::Centrifugo,
        publish: None,
        metric: Metric::SubscribeAll,
        repetitions: reps,
    });
    cases.push(Case {
        id: "P5",
        title: format!("{} idle connected clients for {} s", pick(100, 5), pick(60, 2)),
        scenario: "idle",
        args: vec![format!("clients={}", pick(100, 5)), format!("seconds={}", pick(60, 2))],
        target: Target::Centrifugo,
        publish: None,
        metric: Metric::Idle,
        repetitions: 1,
    });
    cases
}

fn size(bytes: usize) -> String {
    if bytes >= 1024 { format!("{} KiB", bytes / 1024) } else { format!("{bytes} B") }
}
