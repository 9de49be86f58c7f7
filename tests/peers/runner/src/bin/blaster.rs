//! The blaster on its own, for profiling a driver by hand:
//! `blaster serve payload=100 count=1000000 per_frame=16` prints the WebSocket URL and serves until
//! killed. Then, say, `perf record -g driver-ours ingest url=<that URL> format=json channel=x count=1000000`.

use centrifuge_peer_bench::blaster::{Blaster, Stream};
use centrifuge_peer_bench::driver::{Args, fail};

fn main() {
    let args = Args::from_env();
    let stream = Stream {
        payload: args.number("payload") as usize,
        count: args.number("count"),
        per_frame: args.number("per_frame") as usize,
    };
    let blaster = Blaster::start(stream).unwrap_or_else(|err| fail(&format!("cannot start: {err}")));
    println!("{}", blaster.url());
    loop {
        std::thread::park();
    }
}
