//! The side-by-side run: build every participant, start the servers, run every case for every
//! participant in both formats (repetitions in rotating order, so that drift of the shared
//! machine hits everyone alike), and write the report.

mod build;
mod cases;
mod execute;
mod participants;
mod report;

use std::time::Duration;

use centrifuge_test_harness::{Centrifugo, ServerApi};
use serde_json::json;

use crate::blaster::Blaster;
use cases::{Case, Target};
use participants::{Layout, Participant};
use report::{FORMATS, OFFICIAL, OURS, RAW, Report, Results};

/// How the runner was asked to run.
pub struct Options {
    /// Small sizes, one repetition, no build measurement: only shows that everything works.
    pub quick: bool,
    /// Only these participants (by name prefix), when given.
    pub only: Vec<String>,
    /// Only these cases (by id: `P3`, `P6`, …), when given.
    pub cases: Vec<String>,
}

/// What a run produced.
pub struct Outcome {
    /// The markdown report.
    pub report: String,
    /// Case runs in which this crate's driver or the raw baseline failed: a broken harness or
    /// a broken client, never the peers' business.
    pub own_failures: Vec<String>,
}

/// The longest a single driver run may take.
const RUN_LIMIT: Duration = Duration::from_secs(300);

/// Runs everything and returns the markdown report.
pub fn run(options: &Options) -> Result<Outcome, String> {
    let layout = Layout::new();
    eprintln!("building the participants…");
    let mut participants = Vec::new();
    let mut missing = Vec::new();
    for prepared in participants::prepare_all(&layout) {
        match prepared {
            Ok(participant) if selected(options, participant.name) => participants.push(participant),
            Ok(_) => {}
            Err((name, why)) if selected(options, name) => {
                eprintln!("{name} is missing: {why}");
                missing.push((name, why));
            }
            Err(_) => {}
        }
    }
    if !participants.iter().any(|participant| participant.name == OURS) {
        return Err("centrifuge-blocking's own driver could not be built".into());
    }
    let server = Centrifugo::start_with(|config| {
        config["client"]["queue_max_size"] = json!(256 << 20);
        config["websocket"]["message_size_limit"] = json!(16 << 20);
    });
    let cases: Vec<Case> = cases::all(options.quick)
        .into_iter()
        .filter(|case| options.cases.is_empty() || options.cases.iter().any(|id| id == case.id))
        .collect();
    let mut results = Results::default();
    for (index, case) in cases.iter().enumerate() {
        eprintln!("{} {}…", case.id, case.title);
        run_case(&cases, index, &participants, &server, &mut results)?;
    }
    let builds = if options.quick || !(options.cases.is_empty() || options.cases.iter().any(|id| id == "P6"))
    {
        Vec::new()
    } else {
        eprintln!("P6 clean builds…");
        let ours = format!("centrifuge-blocking = {{ path = {:?} }}", layout.root.display().to_string());
        vec![
            (OURS, build::measure(&layout.out, "ours", &ours)),
            (OFFICIAL, build::measure(&layout.out, "official", "centrifuge-client = \"=0.1.0\"")),
        ]
    };
    let names: Vec<&'static str> = participants.iter().map(|participant| participant.name).collect();
    let header = format!(
        "Run of {} · {} · Centrifugo {} on 127.0.0.1 · {} repetitions per case (P5: 1)",
        if options.quick { "`peer-bench --quick` (sizes too small to compare)" } else { "`peer-bench`" },
        machine_line(),
        centrifuge_test_harness::CENTRIFUGO_VERSION,
        if options.quick { 1 } else { 3 },
    );
    let report = Report {
        cases: &cases,
        participants: &names,
        missing: &missing,
        results: &results,
        builds: &builds,
        header,
        only: &options.only,
        only_cases: &options.cases,
    }
    .markdown();
    let own_failures = results
        .failures
        .iter()
        .filter(|((_, name, _), _)| name == OURS || name == RAW)
        .flat_map(|((case, name, format), whys)| {
            let id = cases[*case].id;
            whys.iter().map(move |why| format!("{id} {name} {format}: {why}"))
        })
        .collect();
    Ok(Outcome { report, own_failures })
}

fn selected(options: &Options, name: &str) -> bool {
    name == OURS || options.only.is_empty() || options.only.iter().any(|only| name.starts_with(only.as_str()))
}

fn run_case(
    cases: &[Case],
    index: usize,
    participants: &[Participant],
    server: &Centrifugo,
    results: &mut Results,
) -> Result<(), String> {
    let case = &cases[index];
    let blaster = match case.target {
        Target::Blaster(stream) => {
            Some(Blaster::start(stream).map_err(|err| format!("cannot start the blaster: {err}"))?)
        }
        Target::Centrifugo => None,
    };
    let url = blaster.as_ref().map_or_else(|| server.ws_url(), Blaster::url);
    for repetition in 0..case.repetitions {
        for offset in 0..participants.len() {
            let participant = &participants[(offset + repetition) % participants.len()];
            if participant.baseline && !matches!(case.scenario, "ingest" | "roundtrip" | "pipelined") {
                continue;
            }
            for format in FORMATS {
                let mut args = vec![format!("url={url}"), format!("format={format}")];
                args.extend(case.args.iter().cloned());
                let channel = case
                    .args
                    .iter()
                    .find_map(|arg| arg.strip_prefix("channel="))
                    .unwrap_or("bench")
                    .to_string();
                let publish = case.publish;
                let api = server.api();
                let server_cpu = server_cpu_seconds(server.pid());
                let outcome =
                    execute::run_driver(participant, case.scenario, &args, RUN_LIMIT, || match publish {
                        Some((payload, count)) => publish_stream(api, &channel, payload, count),
                        None => Ok(()),
                    });
                // What the server spent on this driver's requests (it serves no one else meanwhile).
                let outcome = outcome.map(|mut result| {
                    if let (Some(before), Some(after), Some(fields)) =
                        (server_cpu, server_cpu_seconds(server.pid()), result.as_object_mut())
                        && blaster.is_none()
                    {
                        fields.insert("server_cpu_s".into(), json!(after - before));
                    }
                    result
                });
                results.record(cases, index, participant.name, format, outcome);
            }
        }
    }
    Ok(())
}

/// Publishes `count` JSON payloads of `size` bytes into `channel` through the server API, in
/// batches of 1,000.
fn publish_stream(api: &ServerApi, channel: &str, size: usize, count: u64) -> Result<(), String> {
    let filler = "x".repeat(size.saturating_sub(r#"{"p":""}"#.len()));
    let data = json!({ "p": filler });
    let mut left = count;
    while left > 0 {
        let batch = left.min(1000);
        let commands: Vec<_> =
            (0..batch).map(|_| json!({ "publish": { "channel": channel, "data": data } })).collect();
        api.call("batch", &json!({ "commands": commands }).to_string())
            .map_err(|err| format!("publishing failed: {err:?}"))?;
        left -= batch;
    }
    Ok(())
}

/// User + system CPU seconds of process `pid` so far, every thread included (fields 14 and 15
/// of `/proc/<pid>/stat`, in clock ticks of 1/100 s: USER_HZ is 100 on Linux).
fn server_cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields after it are plain.
    let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// CPU model, cores and kernel, as far as /proc tells.
fn machine_line() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_string());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{} × {cores} cores, Linux {}", model.unwrap_or_else(|| "unknown CPU".into()), kernel.trim())
}
