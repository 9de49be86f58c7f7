//! The side-by-side benchmark: `cargo run --release -p centrifuge-peer-bench --bin peer-bench`
//! (add `-- --quick` for the small run CI makes, `--only go,js` to limit the peers, `--cases
//! P3,P4` to limit the cases, `--out <file>` to write the report there too). Exits non-zero when this crate's or the raw
//! baseline's driver fails a case. See tests/peers/README.md.

use centrifuge_peer_bench::runner::{self, Options};

fn main() {
    let mut args = std::env::args().skip(1);
    let mut options = Options { quick: false, only: Vec::new(), cases: Vec::new() };
    let mut out = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--only" => {
                options.only = args.next().unwrap_or_default().split(',').map(str::to_string).collect()
            }
            "--cases" => {
                options.cases = args.next().unwrap_or_default().split(',').map(str::to_string).collect()
            }
            "--out" => out = args.next(),
            other => {
                eprintln!(
                    "unknown argument {other}; expected --quick, --only <names>, --cases <ids>, --out <file>"
                );
                std::process::exit(2);
            }
        }
    }
    match runner::run(&options) {
        Ok(outcome) => {
            println!("{}", outcome.report);
            if let Some(path) = out
                && let Err(err) = std::fs::write(&path, &outcome.report)
            {
                eprintln!("cannot write {path}: {err}");
                std::process::exit(1);
            }
            if !outcome.own_failures.is_empty() {
                eprintln!("peer-bench: this crate's or the raw baseline's driver failed:");
                for failure in &outcome.own_failures {
                    eprintln!("  {failure}");
                }
                std::process::exit(1);
            }
        }
        Err(why) => {
            eprintln!("peer-bench: {why}");
            std::process::exit(1);
        }
    }
}
