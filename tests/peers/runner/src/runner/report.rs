//! The markdown report: one table per case with medians and ratios to this crate, then the
//! targets of the performance issue, each with the numbers it was judged on.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use super::build::BuildStats;
use super::cases::{Case, Metric};

pub const OURS: &str = "centrifuge-blocking";
pub const RAW: &str = "raw tungstenite";
pub const OFFICIAL: &str = "centrifuge-client (Rust, tokio)";
pub const FORMATS: [&str; 2] = ["json", "protobuf"];

/// Results of every run: (case index, participant, format) → results of the repetitions, and
/// why each failed repetition failed.
#[derive(Default)]
pub struct Results {
    pub runs: BTreeMap<(usize, String, &'static str), Vec<Value>>,
    pub failures: BTreeMap<(usize, String, &'static str), Vec<String>>,
}

impl Results {
    /// Records one repetition of `case` (index `index`): its result if [`Case::check`] accepts
    /// it, else a failure.
    pub fn record(
        &mut self,
        cases: &[Case],
        index: usize,
        participant: &str,
        format: &'static str,
        outcome: Result<Value, String>,
    ) {
        let key = (index, participant.to_string(), format);
        match outcome.and_then(|result| cases[index].check(&result).map(|()| result)) {
            Ok(result) => self.runs.entry(key).or_default().push(result),
            Err(why) => {
                eprintln!("  {participant} {format}: {why}");
                self.failures.entry(key).or_default().push(why);
            }
        }
    }

    fn median(
        &self,
        case: usize,
        participant: &str,
        format: &'static str,
        value: impl Fn(&Value) -> Option<f64>,
    ) -> Option<f64> {
        let runs = self.runs.get(&(case, participant.to_string(), format))?;
        let mut values: Vec<f64> = runs.iter().filter_map(value).collect();
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        Some(values[values.len() / 2])
    }

    pub fn headline(
        &self,
        cases: &[Case],
        case: usize,
        participant: &str,
        format: &'static str,
    ) -> Option<f64> {
        let metric = cases[case].metric;
        self.median(case, participant, format, |result| metric.headline(result, &cases[case]))
    }

    fn secondary(&self, cases: &[Case], case: usize, participant: &str, format: &'static str) -> Option<f64> {
        let metric = cases[case].metric;
        self.median(case, participant, format, |result| metric.secondary(result, &cases[case]))
    }
}

/// Everything the report needs.
pub struct Report<'a> {
    pub cases: &'a [Case],
    pub participants: &'a [&'static str],
    pub missing: &'a [(&'static str, String)],
    pub results: &'a Results,
    pub builds: &'a [(&'static str, Result<BuildStats, String>)],
    pub header: String,
    /// The `--only` prefixes the run was limited to (empty: every peer).
    pub only: &'a [String],
    /// The `--cases` the run was limited to (empty: every case).
    pub only_cases: &'a [String],
}

impl Report<'_> {
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}\n", self.header);
        if !self.only.is_empty() {
            let _ = writeln!(
                out,
                "- **limited with `--only {}`**: the other peers did not run; \"best peer\" is the best of \
                 those that did",
                self.only.join(",")
            );
        }
        if !self.only_cases.is_empty() {
            let _ = writeln!(
                out,
                "- **limited with `--cases {}`**: the other cases did not run",
                self.only_cases.join(",")
            );
        }
        for (name, why) in self.missing {
            let _ = writeln!(out, "- **{name} missing**: {}", why.lines().next().unwrap_or(""));
        }
        for ((index, participant, format), whys) in &self.results.failures {
            let Some(runs) = self.results.runs.get(&(*index, participant.clone(), *format)) else { continue };
            let case = &self.cases[*index];
            let _ = writeln!(
                out,
                "- **{participant} failed {} of {} repetitions** of {} {} ({format}): {}; its value is the \
                 median of the other {}",
                whys.len(),
                whys.len() + runs.len(),
                case.id,
                case.title,
                short(&whys[0]).trim_start_matches("failed: "),
                runs.len()
            );
        }
        for (index, case) in self.cases.iter().enumerate() {
            self.case_table(&mut out, index, case);
            if case.metric == Metric::Throughput {
                self.costs_table(&mut out, index, case);
            }
        }
        self.build_table(&mut out);
        self.targets(&mut out);
        out
    }

    fn case_table(&self, out: &mut String, index: usize, case: &Case) {
        let (headline, secondary) = case.metric.heading();
        let better = if case.metric.lower_is_better() { "lower is better" } else { "higher is better" };
        let _ = writeln!(
            out,
            "\n### {} — {} ({headline}: {better}; median of {})\n",
            case.id, case.title, case.repetitions
        );
        let shown = |format: &str| match secondary {
            Some(secondary) => format!("{format}: {headline} ({secondary}) | ratio to ours"),
            None => format!("{format}: {headline} | ratio to ours"),
        };
        let _ = writeln!(out, "| participant | {} | {} |", shown("JSON"), shown("Protobuf"));
        let _ = writeln!(out, "|---|---|---|---|---|");
        for &participant in self.participants {
            let mut cells = Vec::new();
            for format in FORMATS {
                let key = (index, participant.to_string(), format);
                let value = self.results.headline(self.cases, index, participant, format);
                let ours = self.results.headline(self.cases, index, OURS, format);
                match value {
                    Some(value) => {
                        let extra = self
                            .results
                            .secondary(self.cases, index, participant, format)
                            .map(|extra| format!(" ({})", number(extra)))
                            .unwrap_or_default();
                        cells.push(format!("{}{extra}", number(value)));
                        cells.push(
                            ours.map(|ours| format!("{:.2}", value / ours)).unwrap_or_else(|| "—".into()),
                        );
                    }
                    None => {
                        let why = self
                            .results
                            .failures
                            .get(&key)
                            .and_then(|whys| whys.first())
                            .map(|why| short(why))
                            .unwrap_or_else(|| "n/a".into());
                        cells.push(why);
                        cells.push("—".into());
                    }
                }
            }
            if cells.iter().step_by(2).all(|cell| cell == "n/a") {
                continue;
            }
            let _ = writeln!(out, "| {participant} | {} |", cells.join(" | "));
        }
    }

    /// P3's costs per publish, from the same runs: the client's CPU and context switches (each
    /// blocking wait for a reply is at least one switch) and the server's CPU.
    fn costs_table(&self, out: &mut String, index: usize, case: &Case) {
        let Some(count) = case.requested("count") else { return };
        let _ = writeln!(
            out,
            "\n{} per publish, from the same runs (median of {}): client CPU µs · client context switches · \
             server CPU µs\n",
            case.id, case.repetitions
        );
        let _ = writeln!(out, "| participant | JSON | Protobuf |");
        let _ = writeln!(out, "|---|---|---|");
        for &participant in self.participants {
            let cell = |format: &'static str| {
                let per_publish = |name: &str, scale: f64| {
                    self.results
                        .median(index, participant, format, |result| {
                            Some(result.get(name)?.as_f64()? / count * scale)
                        })
                        .map_or_else(|| "—".to_string(), number)
                };
                format!(
                    "{} · {} · {}",
                    per_publish("cpu_s", 1e6),
                    per_publish("wakeups", 1.0),
                    per_publish("server_cpu_s", 1e6)
                )
            };
            if !self.results.runs.keys().any(|(case, name, _)| *case == index && name == participant) {
                continue;
            }
            let _ = writeln!(out, "| {participant} | {} | {} |", cell("json"), cell("protobuf"));
        }
    }

    fn build_table(&self, out: &mut String) {
        if self.builds.is_empty() {
            return;
        }
        let _ = writeln!(
            out,
            "\n### P6 — clean `cargo build --release` of an empty library depending on the SDK\n"
        );
        let _ = writeln!(out, "| SDK | seconds | crates compiled |");
        let _ = writeln!(out, "|---|---|---|");
        for (name, stats) in self.builds {
            match stats {
                Ok(stats) => {
                    let _ = writeln!(out, "| {name} | {:.1} | {} |", stats.seconds, stats.crates);
                }
                Err(why) => {
                    let _ = writeln!(out, "| {name} | failed: {} | — |", short(why));
                }
            }
        }
    }

    fn targets(&self, out: &mut String) {
        let _ = writeln!(out, "\n### Targets\n");
        let peers: Vec<&str> =
            self.participants.iter().copied().filter(|name| *name != OURS && *name != RAW).collect();
        let mut line = |text: String| {
            let _ = writeln!(out, "- {text}");
        };
        for (index, case) in self.cases.iter().enumerate() {
            for format in FORMATS {
                let Some(ours) = self.results.headline(self.cases, index, OURS, format) else { continue };
                let best = best_peer(self.results, self.cases, index, format, &peers, case.metric);
                let raw = self.results.headline(self.cases, index, RAW, format);
                let label = format!("{} {} ({format})", case.id, case.title);
                match case.metric {
                    Metric::CpuPerPublication => {
                        if let Some((peer, value)) = best {
                            line(verdict(
                                &label,
                                ours,
                                0.67 * value,
                                &format!("≤ 0.67 × best peer ({peer}, {})", number(value)),
                            ));
                        }
                        if let Some(raw) = raw {
                            line(verdict(&label, ours, 1.5 * raw, &format!("≤ 1.5 × raw ({})", number(raw))));
                        }
                    }
                    Metric::MedianRoundTrip => {
                        if let Some((peer, value)) = best {
                            line(verdict(
                                &label,
                                ours,
                                value,
                                &format!("≤ best peer ({peer}, {})", number(value)),
                            ));
                        }
                        if let Some(raw) = raw {
                            line(verdict(&label, ours, 1.3 * raw, &format!("≤ 1.3 × raw ({})", number(raw))));
                        }
                    }
                    Metric::Throughput => {
                        if let Some((peer, value)) = best {
                            let met = ours >= 1.5 * value;
                            // The raw pipeline is the server's and the loopback's ceiling.
                            let ceiling = raw.map_or_else(String::new, |raw| {
                                let above = if 1.5 * value > raw { ", above that" } else { "" };
                                format!("; raw ceiling {}{above}", number(raw))
                            });
                            line(format!(
                                "{} {label}: {} publishes/s, target ≥ 1.5 × best peer ({peer}, {}){ceiling}",
                                mark(met),
                                number(ours),
                                number(value)
                            ));
                        }
                    }
                    Metric::SubscribeAll => {
                        if let Some((peer, value)) = best {
                            line(verdict(
                                &label,
                                ours,
                                value,
                                &format!("≤ best peer ({peer}, {} s)", number(value)),
                            ));
                        }
                        // The table's statistic: the median of each run's growth.
                        let rss = |name: &str| self.results.secondary(self.cases, index, name, format);
                        if let (Some(ours_rss), Some(official_rss)) = (rss(OURS), rss(OFFICIAL)) {
                            line(verdict(
                                &format!("{label} RSS growth MiB"),
                                ours_rss,
                                0.5 * official_rss,
                                &format!("≤ 0.5 × official async SDK ({})", number(official_rss)),
                            ));
                        }
                    }
                    Metric::Idle => {
                        line(verdict(&format!("{label} wake-ups/s per client"), ours, 1.0, "≤ 1"));
                        // The table's statistic: the median of each run's growth per client.
                        let per_client = |name: &str| self.results.secondary(self.cases, index, name, format);
                        if let (Some(ours_rss), Some(official_rss)) = (per_client(OURS), per_client(OFFICIAL))
                        {
                            line(verdict(
                                &format!("{label} RSS KiB per client"),
                                ours_rss,
                                0.5 * official_rss,
                                &format!("≤ 0.5 × official async SDK ({})", number(official_rss)),
                            ));
                        }
                    }
                }
            }
        }
        let stats = |name: &str| {
            self.builds
                .iter()
                .find(|(sdk, _)| *sdk == name)
                .and_then(|(_, stats)| stats.as_ref().ok().copied())
        };
        // Only the build's seconds are held to a target; the crate count is reported in the
        // table: the commissioned design fixes the build chain (build.rs with protox and
        // prost-build).
        if let (Some(ours), Some(official)) = (stats(OURS), stats(OFFICIAL)) {
            line(verdict(
                "P6 build seconds",
                ours.seconds,
                0.5 * official.seconds,
                &format!("≤ 0.5 × official ({:.1})", official.seconds),
            ));
        }
    }
}

/// The best peer's median for a case and format.
fn best_peer(
    results: &Results,
    cases: &[Case],
    case: usize,
    format: &'static str,
    peers: &[&str],
    metric: Metric,
) -> Option<(String, f64)> {
    peers
        .iter()
        .filter_map(|peer| Some((peer.to_string(), results.headline(cases, case, peer, format)?)))
        .reduce(|best, candidate| {
            let better = if metric.lower_is_better() { candidate.1 < best.1 } else { candidate.1 > best.1 };
            if better { candidate } else { best }
        })
}

fn verdict(label: &str, ours: f64, limit: f64, target: &str) -> String {
    format!("{} {label}: ours {}, target {target}", mark(ours <= limit), number(ours))
}

fn mark(met: bool) -> &'static str {
    if met { "**met**" } else { "**missed**" }
}

fn number(value: f64) -> String {
    match value.abs() {
        v if v >= 1000.0 => format!("{value:.0}"),
        v if v >= 10.0 => format!("{value:.1}"),
        v if v >= 1.0 => format!("{value:.2}"),
        _ => format!("{value:.3}"),
    }
}

fn short(why: &str) -> String {
    let first = why.lines().next().unwrap_or("");
    let cut: String = first.chars().take(60).collect();
    format!("failed: {}", cut.replace('|', "/"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::runner::cases;

    const GO: &str = "centrifuge-go";
    const JS: &str = "centrifuge-js (Node)";

    /// The quick cases and the index of the first with `metric`.
    fn case_with(metric: Metric) -> (Vec<Case>, usize) {
        let cases = cases::all(true);
        let index = cases.iter().position(|case| case.metric == metric).expect("a case");
        (cases, index)
    }

    fn report<'a>(
        cases: &'a [Case],
        results: &'a Results,
        participants: &'a [&'static str],
        only: &'a [String],
    ) -> String {
        let header = "header".into();
        Report { cases, participants, missing: &[], results, builds: &[], header, only, only_cases: &[] }
            .markdown()
    }

    fn ingest(cpu_s: f64, count: f64) -> Value {
        json!({ "count": count, "wall_s": 1.0, "cpu_s": cpu_s, "rss_kib": 1000 })
    }

    #[test]
    fn a_result_lacking_a_field_is_a_failure_shown_in_the_report() {
        let (cases, index) = case_with(Metric::CpuPerPublication);
        let count = cases[index].requested("count").unwrap();
        let mut results = Results::default();
        results.record(&cases, index, OURS, "json", Ok(ingest(1.0, count)));
        results.record(&cases, index, GO, "json", Ok(json!({ "count": count, "wall_s": 1.0 })));
        results.record(&cases, index, JS, "json", Ok(ingest(3.0, count)));
        assert_eq!(
            results.failures[&(index, GO.to_string(), "json")],
            vec!["RESULT lacks cpu_s".to_string()]
        );
        let text = report(&cases, &results, &[OURS, GO, JS], &[]);
        assert!(text.contains(&format!("| {GO} | failed: RESULT lacks cpu_s")), "{text}");
        assert!(
            text.contains(&format!("best peer ({JS}")),
            "the best of the peers that gave a value: {text}"
        );
    }

    #[test]
    fn cost_per_publication_divides_by_the_requested_count() {
        let (cases, index) = case_with(Metric::CpuPerPublication);
        let count = cases[index].requested("count").unwrap();
        let mut results = Results::default();
        // A driver that handled half the publications and says so.
        results.record(&cases, index, GO, "json", Ok(ingest(1.0, count / 2.0)));
        assert!(results.failures[&(index, GO.to_string(), "json")][0].contains("reports count"));
        results.record(&cases, index, OURS, "json", Ok(ingest(1.0, count)));
        let headline = results.headline(&cases, index, OURS, "json").unwrap();
        assert!((headline - 1e6 / count).abs() < 1e-9, "{headline}");
        // A result without its own count is divided by the requested one all the same.
        let mut bare = ingest(2.0, count);
        bare.as_object_mut().unwrap().remove("count");
        assert_eq!(Metric::CpuPerPublication.headline(&bare, &cases[index]), Some(2e6 / count));
    }

    #[test]
    fn rss_targets_use_the_statistic_of_the_table() {
        let (cases, index) = case_with(Metric::SubscribeAll);
        let channels = cases[index].requested("channels").unwrap();
        let run = |rss: f64, base: f64| json!({ "channels": channels, "wall_s": 0.1, "rss_kib": rss, "rss_base_kib": base });
        let mut results = Results::default();
        // Growth per run: 100, 10 and 50 MiB; median 50. The median of the RSS minus the
        // median of the bases would be 200 - 190 = 10.
        for (rss, base) in [(100.0, 0.0), (200.0, 190.0), (300.0, 250.0)] {
            results.record(&cases, index, OURS, "json", Ok(run(rss * 1024.0, base * 1024.0)));
            results.record(&cases, index, OFFICIAL, "json", Ok(run(240.0 * 1024.0, 140.0 * 1024.0)));
        }
        let text = report(&cases, &results, &[OURS, OFFICIAL], &[]);
        assert!(text.contains(&format!("| {OURS} | 0.100 (50.0) |")), "{text}");
        assert!(
            text.contains("RSS growth MiB: ours 50.0, target ≤ 0.5 × official async SDK (100.0)"),
            "{text}"
        );
    }

    #[test]
    fn throughput_comes_with_its_costs_per_publish() {
        let (cases, index) = case_with(Metric::Throughput);
        let count = cases[index].requested("count").unwrap();
        let run = json!({
            "count": count, "wall_s": count / 1000.0, "cpu_s": count * 30e-6, "msgs_per_s": 1.0,
            "wakeups": count * 1.5, "server_cpu_s": count * 25e-6,
        });
        let mut results = Results::default();
        results.record(&cases, index, OURS, "json", Ok(run));
        let text = report(&cases, &results, &[OURS], &[]);
        // 1,000 publishes/s from the requested count and the wall time, not the driver's rate.
        assert!(text.contains(&format!("| {OURS} | 1000 | 1.00 |")), "{text}");
        assert!(text.contains(&format!("| {OURS} | 30.0 · 1.50 · 25.0 | — · — · — |")), "{text}");
    }

    #[test]
    fn partial_failures_and_a_limited_run_are_marked_in_the_header() {
        let (cases, index) = case_with(Metric::MedianRoundTrip);
        let count = cases[index].requested("count").unwrap();
        let run = json!({ "count": count, "p50_us": 100.0, "p99_us": 200.0, "wall_s": 1.0, "cpu_s": 0.5 });
        let mut results = Results::default();
        results.record(&cases, index, OURS, "json", Ok(run.clone()));
        results.record(&cases, index, GO, "json", Ok(run.clone()));
        results.record(&cases, index, GO, "json", Err("no result within 300s".into()));
        results.record(&cases, index, GO, "json", Ok(run));
        let only = ["go".to_string()];
        let text = report(&cases, &results, &[OURS, GO], &only);
        assert!(text.contains("**limited with `--only go`**"), "{text}");
        assert!(text.contains(&format!("**{GO} failed 1 of 3 repetitions** of P2")), "{text}");
        assert!(!report(&cases, &results, &[OURS, GO], &[]).contains("limited with"));
    }
}
