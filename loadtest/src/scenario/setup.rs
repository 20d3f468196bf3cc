//! Preparing a target for a run: logins and conversations on ours, room
//! names on ejabberd.

use super::{Env, Target};
use crate::chat::http::Api;
use crate::world::World;
use std::collections::BTreeMap;
use std::time::Instant;

/// Logs devices in and creates conversations (ours), or names the rooms
/// (ejabberd, where logins happen on connect). Adds setup timings to
/// `figures`.
pub async fn prepare(
    env: &Env,
    world: &World,
    figures: &mut BTreeMap<String, f64>,
) -> anyhow::Result<()> {
    match &env.target {
        Target::Chat(t) => {
            let api = Api::new(t.base())?;
            let t0 = Instant::now();
            api.login_all(world, env.setup_concurrency).await?;
            figures.insert("setup_login_secs".into(), t0.elapsed().as_secs_f64());
            if !world.convs.is_empty() {
                let t1 = Instant::now();
                api.create_all(world, env.setup_concurrency).await?;
                figures.insert(
                    "setup_conversations_secs".into(),
                    t1.elapsed().as_secs_f64(),
                );
            }
        }
        Target::Xmpp(t) => crate::xmpp::name_rooms(world, t, &env.prefix),
    }
    Ok(())
}
