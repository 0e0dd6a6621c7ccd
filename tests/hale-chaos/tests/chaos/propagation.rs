//! A measurement, not a check (ignored by default; `scripts/chaos.sh
//! --measure` runs it): how long a switch flipped on one replica takes to be
//! in force on another. Two replicas on one Postgres and one Redis; the
//! global `auto_healing` switch is flipped 100 times on replica a, and after
//! each flip's answer replica b's global status is polled until its copy of
//! the platform's safety state has the version a wrote. b's guards read
//! that same copy, so this is when b's decisions follow the flip.
//! Printed: p50, p90 and max, in docs/reliability.md.

use std::time::Duration;

use hale_chaos::World;
use hale_chaos::postgres::fresh_schema;
use hale_chaos::server::ServerProc;
use tokio::time::Instant;

const FLIPS: usize = 100;

/// The platform version a replica's copy has.
async fn platform_version(world: &World, server: &ServerProc) -> u64 {
    world.status(server, false).await["safetyState"]["platformVersion"]
        .as_u64()
        .expect("safetyState.platformVersion")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement (about 30 s): scripts/chaos.sh --measure"]
async fn switch_flips_propagate_between_replicas_measured() {
    let test = "switch_flips_propagate_between_replicas_measured";
    let Some((admin, redis)) = hale_chaos::shared_services(test) else {
        return;
    };
    let schema = fresh_schema(&admin).await;
    let world = World::new(&schema, &redis, 1).await;
    let (a, b) = tokio::join!(
        world.start_server("replica-a"),
        world.start_server("replica-b"),
    );
    let mut lags = Vec::with_capacity(FLIPS);
    let mut polls = 0u64;
    for i in 0..FLIPS {
        // Vary the phase against b's sync timer.
        tokio::time::sleep(Duration::from_millis((i as u64 * 37) % 100)).await;
        let state = if i % 2 == 0 { "off" } else { "on" };
        world.set_global_switch(&a, "auto_healing", state).await;
        let answered = Instant::now();
        let written = platform_version(&world, &a).await;
        loop {
            polls += 1;
            if platform_version(&world, &b).await >= written {
                lags.push(answered.elapsed());
                break;
            }
            assert!(
                answered.elapsed() < Duration::from_secs(10),
                "flip {i} never reached replica b"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    lags.sort();
    let at = |q: f64| lags[((lags.len() as f64 - 1.0) * q).round() as usize];
    let sync = world.status(&b, false).await["safetyState"]["syncIntervalMs"].clone();
    #[allow(clippy::print_stderr)] // the numbers are this test's report
    {
        eprintln!(
            "propagation: {FLIPS} flips of global auto_healing on replica a, seen by replica b \
             (sync interval {sync} ms, {polls} status polls): p50 {:?}, p90 {:?}, max {:?}, min {:?}",
            at(0.5),
            at(0.9),
            at(1.0),
            at(0.0)
        );
    }
    a.stop().await;
    b.stop().await;
}
