//! The nemesis: a schedule of faults drawn from a seed, applied to the cell
//! one after the other, each healed before the next starts and the last
//! healed before the end of the fault window (a restart that takes longer
//! than planned pushes the end; the run waits for it).

use chat_cell::proxy::Mode;
use chat_cell::{Cell, Result};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::time::Duration;
use tokio::time::Instant;

/// Kafka's consumer session timeout in chatctl's consumers
/// (services/chat-kafka/src/consumer.rs, `session.timeout.ms`): a pause
/// longer than it makes the group evict the paused processor.
pub const SESSION_TIMEOUT: Duration = Duration::from_secs(6);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Gateway,
    Processor,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Link {
    Store,
    Broker,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Fault {
    /// kill -9, down for `down`, start again.
    Kill {
        role: Role,
        index: usize,
    },
    /// SIGSTOP for the hold (longer than the session timeout), SIGCONT.
    Pause {
        role: Role,
        index: usize,
    },
    KillBroker,
    KillRedis,
    KillStore,
    /// A processor's link: every connection dropped and refused.
    Cut {
        processor: usize,
        link: Link,
    },
    /// A processor's link: every chunk held `ms` each way.
    Delay {
        processor: usize,
        link: Link,
        ms: u64,
    },
    /// The gateway restarted with its clock off by `offset_ms`, and
    /// restarted again without at the heal.
    ClockOffset {
        gateway: usize,
        offset_ms: i64,
    },
}

impl Fault {
    /// The kind's name, for the summary.
    pub fn kind(&self) -> String {
        match self {
            Fault::Kill { role, .. } => format!("kill9_{}", role_name(*role)),
            Fault::Pause { role, .. } => format!("pause_{}", role_name(*role)),
            Fault::KillBroker => "kill9_broker".into(),
            Fault::KillRedis => "kill9_redis".into(),
            Fault::KillStore => "kill9_store".into(),
            Fault::Cut { link, .. } => format!("cut_{}", link_name(*link)),
            Fault::Delay { link, .. } => format!("delay_{}", link_name(*link)),
            Fault::ClockOffset { .. } => "clock_offset".into(),
        }
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fault::Kill { role, index } => write!(f, "kill -9 {}{index}", role_name(*role)),
            Fault::Pause { role, index } => write!(f, "SIGSTOP {}{index}", role_name(*role)),
            Fault::KillBroker => f.write_str("kill -9 broker"),
            Fault::KillRedis => f.write_str("kill -9 redis"),
            Fault::KillStore => f.write_str("kill -9 store"),
            Fault::Cut { processor, link } => {
                write!(f, "cut processor{processor}<->{}", link_name(*link))
            }
            Fault::Delay {
                processor,
                link,
                ms,
            } => {
                write!(
                    f,
                    "delay processor{processor}<->{} {ms}ms",
                    link_name(*link)
                )
            }
            Fault::ClockOffset { gateway, offset_ms } => {
                write!(f, "clock gateway{gateway} {offset_ms:+}ms")
            }
        }
    }
}

fn role_name(r: Role) -> &'static str {
    match r {
        Role::Gateway => "gateway",
        Role::Processor => "processor",
    }
}

fn link_name(l: Link) -> &'static str {
    match l {
        Link::Store => "store",
        Link::Broker => "broker",
    }
}

/// One planned fault: when it starts (from the start of traffic) and how
/// long it holds before its heal.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Planned {
    pub at_ms: u64,
    pub hold_ms: u64,
    pub fault: Fault,
}

impl std::fmt::Display for Planned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "t+{:.1}s {} for {:.1}s",
            self.at_ms as f64 / 1000.0,
            self.fault,
            self.hold_ms as f64 / 1000.0
        )
    }
}

/// What the nemesis did: each fault with its actual times (from the start
/// of traffic).
#[derive(Clone, Debug, Serialize)]
pub struct Applied {
    pub fault: Fault,
    pub started_ms: u64,
    pub healed_ms: u64,
    pub error: Option<String>,
}

/// How long a heal is expected to take (a restart), for planning only.
fn heal_estimate(f: &Fault, store_is_cassandra: bool) -> u64 {
    match f {
        Fault::KillBroker => 8_000,
        Fault::KillStore if store_is_cassandra => 25_000,
        Fault::KillStore => 2_000,
        Fault::Kill { .. } | Fault::ClockOffset { .. } => 2_000,
        Fault::Pause { .. } | Fault::KillRedis | Fault::Cut { .. } | Fault::Delay { .. } => 500,
    }
}

/// The schedule of `seed` for a fault window from `start_ms` to `end_ms`.
pub fn schedule(seed: u64, start_ms: u64, end_ms: u64, store_is_cassandra: bool) -> Vec<Planned> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut plan = Vec::new();
    let mut t = start_ms;
    loop {
        t += rng.random_range(500..3_000);
        let fault = match rng.random_range(0..10) {
            0 => Fault::Kill {
                role: Role::Gateway,
                index: rng.random_range(0..2),
            },
            1 => Fault::Kill {
                role: Role::Processor,
                index: rng.random_range(0..2),
            },
            2 => Fault::Pause {
                role: if rng.random_bool(0.7) {
                    Role::Processor
                } else {
                    Role::Gateway
                },
                index: rng.random_range(0..2),
            },
            3 => Fault::KillBroker,
            4 => Fault::KillRedis,
            5 => Fault::KillStore,
            6 | 7 => Fault::Cut {
                processor: rng.random_range(0..2),
                link: if rng.random_bool(0.5) {
                    Link::Store
                } else {
                    Link::Broker
                },
            },
            8 => Fault::Delay {
                processor: rng.random_range(0..2),
                link: if rng.random_bool(0.5) {
                    Link::Store
                } else {
                    Link::Broker
                },
                ms: rng.random_range(50..1_500),
            },
            _ => Fault::ClockOffset {
                gateway: rng.random_range(0..2),
                offset_ms: {
                    let m: i64 = rng.random_range(2_000..120_000);
                    if rng.random_bool(0.5) {
                        m
                    } else {
                        -m
                    }
                },
            },
        };
        let hold = match fault {
            Fault::Pause { .. } => {
                SESSION_TIMEOUT.as_millis() as u64 + rng.random_range(1_000..5_000)
            }
            Fault::Kill { .. } | Fault::KillBroker | Fault::KillRedis | Fault::KillStore => {
                rng.random_range(200..4_000)
            }
            Fault::Cut { .. } | Fault::Delay { .. } => rng.random_range(2_000..12_000),
            Fault::ClockOffset { .. } => rng.random_range(3_000..10_000),
        };
        let end = t + hold + heal_estimate(&fault, store_is_cassandra);
        if end > end_ms {
            break;
        }
        plan.push(Planned {
            at_ms: t,
            hold_ms: hold,
            fault,
        });
        t = end;
    }
    plan
}

/// Applies `plan` to `cell`, measuring from `t0`. A fault whose apply or
/// heal fails is recorded with the error and the cell is healed as far as
/// possible (a part that cannot restart fails the run later).
pub async fn run(cell: &mut Cell, plan: &[Planned], t0: Instant) -> Vec<Applied> {
    let mut applied = Vec::new();
    for p in plan {
        tokio::time::sleep_until(t0 + Duration::from_millis(p.at_ms)).await;
        let started_ms = t0.elapsed().as_millis() as u64;
        eprintln!(
            "nemesis: t+{:.1}s {} (hold {:.1}s)",
            started_ms as f64 / 1000.0,
            p.fault,
            p.hold_ms as f64 / 1000.0
        );
        let mut error = apply(cell, &p.fault)
            .await
            .err()
            .map(|e| format!("apply: {e:#}"));
        tokio::time::sleep(Duration::from_millis(p.hold_ms)).await;
        if let Err(e) = heal(cell, &p.fault).await {
            error.get_or_insert(format!("heal: {e:#}"));
        }
        let healed_ms = t0.elapsed().as_millis() as u64;
        eprintln!(
            "nemesis: t+{:.1}s healed {}{}",
            healed_ms as f64 / 1000.0,
            p.fault,
            error
                .as_deref()
                .map(|e| format!(" (error: {e})"))
                .unwrap_or_default()
        );
        applied.push(Applied {
            fault: p.fault,
            started_ms,
            healed_ms,
            error,
        });
    }
    applied
}

async fn apply(cell: &mut Cell, f: &Fault) -> Result<()> {
    match *f {
        Fault::Kill { role, index } => node(cell, role, index).proc.kill9().await,
        Fault::Pause { role, index } => node(cell, role, index).proc.signal("STOP").await,
        Fault::KillBroker => cell.broker.kill9().await,
        Fault::KillRedis => cell.redis.kill9().await,
        Fault::KillStore => cell.store.kill9().await,
        Fault::Cut { processor, link } => {
            proxy(cell, processor, link).set(Mode::Cut);
            Ok(())
        }
        Fault::Delay {
            processor,
            link,
            ms,
        } => {
            proxy(cell, processor, link).set(Mode::Delay(Duration::from_millis(ms)));
            Ok(())
        }
        Fault::ClockOffset { gateway, offset_ms } => {
            cell.gateways[gateway].proc.kill9().await?;
            cell.gateways[gateway].clock_offset_ms = Some(offset_ms);
            cell.start_gateway(gateway).await
        }
    }
}

async fn heal(cell: &mut Cell, f: &Fault) -> Result<()> {
    match *f {
        Fault::Kill { role, index } => match role {
            Role::Gateway => cell.start_gateway(index).await,
            Role::Processor => cell.start_processor(index).await,
        },
        Fault::Pause { role, index } => node(cell, role, index).proc.signal("CONT").await,
        Fault::KillBroker => cell.restart_broker().await,
        Fault::KillRedis => cell.restart_redis().await,
        Fault::KillStore => cell.restart_store().await,
        Fault::Cut { processor, link }
        | Fault::Delay {
            processor, link, ..
        } => {
            proxy(cell, processor, link).set(Mode::Pass);
            Ok(())
        }
        Fault::ClockOffset { gateway, .. } => {
            cell.gateways[gateway].proc.kill9().await?;
            cell.gateways[gateway].clock_offset_ms = None;
            cell.start_gateway(gateway).await
        }
    }
}

fn node(cell: &mut Cell, role: Role, index: usize) -> &mut chat_cell::Node {
    match role {
        Role::Gateway => &mut cell.gateways[index],
        Role::Processor => &mut cell.processors[index],
    }
}

fn proxy(cell: &Cell, processor: usize, link: Link) -> &chat_cell::proxy::Proxy {
    match link {
        Link::Store => &cell.store_proxies[processor],
        Link::Broker => &cell.broker_proxies[processor],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_one_schedule_inside_the_window() {
        let a = schedule(42, 5_000, 60_000, true);
        let b = schedule(42, 5_000, 60_000, true);
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
        assert!(!a.is_empty());
        let mut prev_end = 0;
        for p in &a {
            assert!(p.at_ms >= 5_000 && p.at_ms >= prev_end, "{p}");
            prev_end = p.at_ms + p.hold_ms;
            assert!(prev_end <= 60_000);
            if let Fault::Pause { .. } = p.fault {
                assert!(p.hold_ms > SESSION_TIMEOUT.as_millis() as u64);
            }
        }
        assert_ne!(
            format!("{a:?}"),
            format!("{:?}", schedule(43, 5_000, 60_000, true))
        );
    }

    #[test]
    fn many_seeds_cover_every_kind() {
        let mut kinds = std::collections::BTreeSet::new();
        for seed in 0..200 {
            for p in schedule(seed, 5_000, 60_000, false) {
                kinds.insert(p.fault.kind());
            }
        }
        assert_eq!(kinds.len(), 12, "{kinds:?}");
    }
}
