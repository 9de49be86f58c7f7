//! A base and a delta from the input: applying returns the output or an error, never panics,
//! and never exceeds the output limit.
#![no_main]

use centrifuge_blocking::unversioned::fossil_apply;
use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else { return };
    let split = usize::from(split).min(rest.len());
    let (base, delta) = rest.split_at(split);
    if let Ok(output) = fossil_apply(base, delta, LIMIT) {
        assert!(output.len() <= LIMIT);
    }
});
