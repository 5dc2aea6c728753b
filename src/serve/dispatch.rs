//! What each request type does. Quick requests are answered here; generations and loads
//! are admitted as work ([`super::work`]).

use std::sync::Arc;

use serde_json::{Value, json};

use super::Shared;
use super::connection::Outbox;
use super::protocol::{ErrorCode, PROTOCOL, Request, error_line};
use super::work::{Guard, Work, WorkKind, start};

/// Whether a client's protocol is ours: same name, same major version (`fgbench.serve/1`
/// and `fgbench.serve/1.3` are; `fgbench.serve/2` is not).
pub fn compatible(protocol: &str) -> bool {
    let major = |p: &str| p.split_once('/').map(|(name, v)| (name.to_string(), v.split('.').next().unwrap_or_default().to_string()));
    matches!((major(protocol), major(PROTOCOL)), (Some(a), Some(b)) if a == b && !a.1.is_empty())
}

pub async fn dispatch(id: Option<Value>, req: Request, shared: &Arc<Shared>, outbox: &Outbox) {
    let reply = |v: Value| outbox.reply(v);
    if shared.shutdown.is_cancelled() && !matches!(req, Request::Stats | Request::Models) {
        return reply(error_line(id.as_ref(), ErrorCode::ShuttingDown, "the server is shutting down")).await;
    }
    match req {
        Request::Hello { protocol } => {
            if !compatible(&protocol) {
                return reply(error_line(
                    id.as_ref(),
                    ErrorCode::UnsupportedProtocol,
                    &format!("this server speaks {PROTOCOL}, not {protocol}"),
                ))
                .await;
            }
            let names: Vec<String> = shared.models.read().unwrap_or_else(|p| p.into_inner()).keys().cloned().collect();
            reply(json!({"id": id, "type": "hello", "protocol": PROTOCOL, "server": format!("fgbench {}", env!("CARGO_PKG_VERSION")), "models": names})).await
        }
        Request::Models => {
            let mut list: Vec<Value> = shared
                .models
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .map(|(n, m)| json!({"name": n, "model": m.description}))
                .collect();
            list.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
            reply(json!({"id": id, "type": "models", "models": list})).await
        }
        Request::Stats => reply(shared.stats.response(id.as_ref(), shared.cfg.max_queue, shared.permits.available_permits())).await,
        Request::Cancel { target } => {
            let key = target.to_string();
            if outbox.cancel(&key) {
                reply(json!({"id": id, "type": "cancel", "target": target, "found": true})).await
            } else {
                reply(error_line(id.as_ref(), ErrorCode::UnknownRequest, &format!("no request {key} in flight on this connection"))).await
            }
        }
        Request::Shutdown => {
            if !shared.cfg.allow_shutdown {
                return reply(error_line(
                    id.as_ref(),
                    ErrorCode::Forbidden,
                    "`shutdown` over the socket needs `fgbench serve --allow-shutdown` (SIGTERM always works)",
                ))
                .await;
            }
            let in_flight = shared.stats.in_flight.load(std::sync::atomic::Ordering::SeqCst);
            reply(json!({"id": id, "type": "shutdown", "in_flight": in_flight})).await;
            shared.shutdown.cancel();
        }
        Request::Unload { name } => {
            let removed = shared.models.write().unwrap_or_else(|p| p.into_inner()).remove(&name);
            match removed {
                Some(m) => {
                    // Requests already running keep their Arc; the engine is freed after them,
                    // on a blocking thread (mistral.rs owns a runtime that must not be dropped here).
                    shared.retire(m);
                    reply(json!({"id": id, "type": "unload", "name": name})).await
                }
                None => reply(error_line(id.as_ref(), ErrorCode::UnknownModel, &format!("no model named `{name}`"))).await,
            }
        }
        Request::Load { name, source, engine, adapter } => load(shared, outbox, id, name, source, engine, adapter).await,
        Request::Generate { model, input, settings, stream } => {
            start(shared, outbox, id, Work { models: vec![model], input, settings, stream, kind: WorkKind::Generate }).await
        }
        Request::Call { model, input, settings } => {
            start(shared, outbox, id, Work { models: vec![model], input, settings, stream: false, kind: WorkKind::Call }).await
        }
        Request::Compare { models, input, settings } => {
            if models.len() < 2 {
                return reply(error_line(id.as_ref(), ErrorCode::BadRequest, "`compare` needs at least two models")).await;
            }
            if models.iter().enumerate().any(|(i, m)| models[..i].contains(m)) {
                return reply(error_line(id.as_ref(), ErrorCode::BadRequest, "`compare` names a model twice")).await;
            }
            start(shared, outbox, id, Work { models, input, settings, stream: false, kind: WorkKind::Compare }).await
        }
    }
}

async fn load(
    shared: &Arc<Shared>,
    outbox: &Outbox,
    id: Option<Value>,
    name: String,
    source: String,
    engine: Option<String>,
    adapter: Option<String>,
) {
    let allowed = match shared.cfg.policy.check(&source, adapter.as_deref()) {
        Ok(a) => a,
        Err(msg) => return outbox.reply(error_line(id.as_ref(), ErrorCode::Forbidden, &msg)).await,
    };
    let full = {
        let models = shared.models.read().unwrap_or_else(|p| p.into_inner());
        (!models.contains_key(&name) && models.len() >= shared.cfg.policy.max_models).then(|| models.len())
    };
    if let Some(n) = full {
        let msg = format!("{n} models are loaded, the most --max-models allows; unload one first");
        return outbox.reply(error_line(id.as_ref(), ErrorCode::Forbidden, &msg)).await;
    }
    // A load occupies the queue like a request: loading is work the server does.
    let Some(guard) = Guard::admit(shared, outbox, id, 1).await else { return };
    let (shared, id) = (shared.clone(), guard.id().cloned());
    guard.spawn(async move {
        let s2 = shared.clone();
        let loaded =
            tokio::task::spawn_blocking(move || (s2.loader)(&source, engine.as_deref(), adapter.as_deref(), allowed.offline)).await;
        match loaded {
            Ok(Ok(m)) => {
                let description = m.description.clone();
                let m = Arc::new(m);
                let placed = {
                    let mut models = shared.models.write().unwrap_or_else(|p| p.into_inner());
                    // Checked again: other loads may have finished meanwhile.
                    if models.contains_key(&name) || models.len() < shared.cfg.policy.max_models {
                        Ok(models.insert(name.clone(), m))
                    } else {
                        Err(m)
                    }
                };
                match placed {
                    Ok(old) => {
                        if let Some(old) = old {
                            shared.retire(old);
                        }
                        json!({"id": id, "type": "load", "name": name, "model": description})
                    }
                    Err(m) => {
                        shared.retire(m);
                        error_line(id.as_ref(), ErrorCode::Forbidden, "another load filled the last place under --max-models")
                    }
                }
            }
            Ok(Err(e)) => error_line(id.as_ref(), ErrorCode::Load, &e),
            Err(e) => error_line(id.as_ref(), ErrorCode::Load, &format!("loader crashed: {e}")),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_major_version_decides() {
        assert!(compatible("fgbench.serve/1"));
        assert!(compatible("fgbench.serve/1.4"));
        assert!(!compatible("fgbench.serve/2"));
        assert!(!compatible("fgbench.serve/10"));
        assert!(!compatible("other/1"));
        assert!(!compatible("fgbench.serve"));
    }
}
