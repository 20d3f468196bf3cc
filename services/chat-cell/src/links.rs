//! Whether the proxies' cuts are real: established TCP connections of the
//! processors that go straight to the store's or the broker's client port.

use crate::cell::Cell;

impl Cell {
    /// Processor connections that bypass the proxies, as "pid->port"
    /// strings (listed with `ss`); empty when the cuts are real or the
    /// cell has no proxies.
    pub async fn direct_links(&self) -> Vec<String> {
        if !self.spec.proxied {
            return Vec::new();
        }
        let pids: Vec<u32> = self
            .processors
            .iter()
            .filter_map(|n| n.proc.pid())
            .collect();
        let out = match tokio::process::Command::new("ss")
            .args(["-tnpH", "state", "established"])
            .output()
            .await
        {
            Ok(out) if out.status.success() => out,
            // A check that cannot look must not pass: it reports itself.
            _ => return vec!["ss (iproute2) could not list the connections".to_string()],
        };
        let text = String::from_utf8_lossy(&out.stdout);
        let direct = [self.store_port, self.broker_port];
        let mut found = Vec::new();
        for line in text.lines() {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (Some(peer), Some(users)) = (cols.get(3), cols.last()) else {
                continue;
            };
            let Some(port) = peer.rsplit(':').next().and_then(|p| p.parse::<u16>().ok()) else {
                continue;
            };
            if !direct.contains(&port) {
                continue;
            }
            for pid in &pids {
                if users.contains(&format!("pid={pid},")) {
                    found.push(format!("{pid}->{port}"));
                }
            }
        }
        found
    }
}
