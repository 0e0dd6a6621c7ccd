//! The bounded run of the HTTP fuzz harness that the test suite (and so
//! CI) runs on the stable toolchain: every checked-in seed of the
//! `http_router` cargo-fuzz target, then [`MUTATIONS`] deterministic
//! mutations of them (byte flips, insertions of hostile fragments,
//! splices, truncations). The long, coverage-guided run is
//! `scripts/fuzz.sh` (nightly, libFuzzer); both use the same
//! [`Harness`], so a finding of either replays in the other.
//!
//! A finding fails the test and prints the input as hex, to be saved under
//! `fuzz/seeds/http_router/` as a regression seed.

use std::path::PathBuf;

use hale_http_fuzz::Harness;

/// Mutated inputs after the seeds: about 10 s in a debug build on 2 cores.
const MUTATIONS: u64 = 20_000;

/// Fragments that broke, or could break, request handling.
const HOSTILE: &[&[u8]] = &[
    b"%C3%A9",
    b"%F0%9F%98%80",
    b"\xc3\xa9",
    b"%2B1%C3%A91",
    b"..",
    b"%2E%2E",
    b"%00",
    b"%",
    b"%ZZ",
    b"tz=",
    b"&tz=%2B",
    b"limit=99999999999999999999",
    b"offset=-1",
    b"tenant=b",
    b"tenant=%2A",
    b"since=9999-99-99T99:99:99Z",
    b"{\"alerts\":[{\"status\":\"firing\",\"labels\":{\"alertname\":\"HighErrorRate\",\"namespace\":\"..\",\"service\":\".\"}}]}",
    b"\"\\ud800\"",
    b"1e999999",
    b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
];

/// A small xorshift generator: the run is the same every time.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n.max(1) as u64).unwrap_or(0)
    }
}

fn mutate(rng: &mut Rng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(v.len() + 1);
        match rng.below(6) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 => {
                let frag = HOSTILE[rng.below(HOSTILE.len())];
                v.splice(at..at, frag.iter().copied());
            }
            2 if at < v.len() => {
                let end = (at + rng.below(32)).min(v.len());
                v.drain(at..end);
            }
            3 => {
                let from = rng.below(other.len());
                let end = (from + rng.below(64)).min(other.len());
                v.splice(at..at, other[from..end].iter().copied());
            }
            4 if v.len() > 3 => v.truncate(3 + rng.below(v.len() - 3)),
            _ => {
                let b = u8::try_from(rng.next() & 0xFF).unwrap_or(0);
                v.insert(at, b);
            }
        }
    }
    v
}

fn seeds() -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/http_router");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let seeds: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    assert!(
        seeds.len() >= 5,
        "expected the checked-in seeds in {}",
        dir.display()
    );
    seeds
}

fn hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn seeds_and_mutations_never_answer_a_5xx_other_than_503() {
    let seeds = seeds();
    let mut h = Harness::new();
    for s in &seeds {
        if let Err(f) = h.run(s) {
            panic!("seed {}: {f}", hex(s));
        }
    }
    let seeded = h.total;
    assert_eq!(seeded, seeds.len() as u64, "every seed is a valid request");

    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..MUTATIONS {
        let seed = &seeds[rng.below(seeds.len())];
        let other = &seeds[rng.below(seeds.len())];
        let input = mutate(&mut rng, seed, other);
        if let Err(f) = h.run(&input) {
            panic!("input {}: {f}", hex(&input));
        }
    }
    // Most mutations still make a request the router answers.
    assert!(
        h.total > seeded + MUTATIONS / 2,
        "{} requests sent",
        h.total
    );
}
