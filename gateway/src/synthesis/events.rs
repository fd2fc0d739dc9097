//! Completion events from Redis pub/sub, routed to the listeners of this gateway.
//!
//! One dedicated pub/sub connection per gateway. When it drops (Redis restarted), it is opened
//! again with backoff, and every listener is told to re-check what it waits for: pub/sub delivers
//! at most once, so anything published while the connection was down is found that way.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use futures_util::StreamExt;
use tokio::sync::{Notify, broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use super::{Event, EventKind, Keys};

/// What a listener receives.
#[derive(Debug, Clone)]
pub enum HubMessage {
    Event(Event),
    /// Events may have been missed: re-check everything pending.
    Resync,
}

type Subscribers = HashMap<String, HashMap<u64, mpsc::UnboundedSender<HubMessage>>>;

pub struct EventHub {
    subscribers: Mutex<Subscribers>,
    next_id: AtomicU64,
    resync: broadcast::Sender<()>,
    /// Woken when a model gets a new job.
    enqueued: Mutex<HashMap<String, Arc<Notify>>>,
    connected: std::sync::atomic::AtomicBool,
}

/// One listener's registration; its messages arrive on `receiver`.
pub struct Subscription {
    pub id: u64,
    pub receiver: mpsc::UnboundedReceiver<HubMessage>,
    sender: mpsc::UnboundedSender<HubMessage>,
    resync: broadcast::Receiver<()>,
}

impl Subscription {
    /// The next message for this listener.
    pub async fn recv(&mut self) -> Option<HubMessage> {
        tokio::select! {
            message = self.receiver.recv() => message,
            resync = self.resync.recv() => match resync {
                Ok(()) | Err(broadcast::error::RecvError::Lagged(_)) => Some(HubMessage::Resync),
                Err(broadcast::error::RecvError::Closed) => None,
            },
        }
    }
}

impl Default for EventHub {
    fn default() -> Self {
        Self {
            subscribers: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            resync: broadcast::channel(16).0,
            enqueued: Mutex::new(HashMap::new()),
            connected: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

impl EventHub {
    pub fn subscribe(&self) -> Subscription {
        let (sender, receiver) = mpsc::unbounded_channel();
        Subscription {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            receiver,
            sender,
            resync: self.resync.subscribe(),
        }
    }

    /// Routes the events of `hash` to this subscription until [`EventHub::unwatch`].
    pub fn watch(&self, subscription: &Subscription, hash: &str) {
        let mut subscribers = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        subscribers
            .entry(hash.to_string())
            .or_default()
            .insert(subscription.id, subscription.sender.clone());
    }

    pub fn unwatch(&self, subscription_id: u64, hash: &str) {
        let mut subscribers = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(watchers) = subscribers.get_mut(hash) {
            watchers.remove(&subscription_id);
            if watchers.is_empty() {
                subscribers.remove(hash);
            }
        }
    }

    /// The notifier a model's dispatchers wait on for new work.
    pub fn enqueued(&self, model: &str) -> Arc<Notify> {
        let mut enqueued = self.enqueued.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(enqueued.entry(model.to_string()).or_default())
    }

    /// Whether the pub/sub connection is up.
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// Hands an event to its listeners on this gateway.
    pub fn deliver(&self, event: Event) {
        if let EventKind::Enqueued { model } = &event.kind {
            self.enqueued(model).notify_waiters();
            return;
        }
        let subscribers = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(watchers) = subscribers.get(&event.hash) {
            for sender in watchers.values() {
                let _ = sender.send(HubMessage::Event(event.clone()));
            }
        }
    }

    fn resync_all(&self) {
        let _ = self.resync.send(());
        let enqueued = self.enqueued.lock().unwrap_or_else(|e| e.into_inner());
        for notify in enqueued.values() {
            notify.notify_waiters();
        }
    }

    /// Listens on the events channel until `stop`, reconnecting with backoff.
    pub async fn run(self: Arc<Self>, client: redis::Client, keys: Keys, stop: CancellationToken) {
        let mut backoff = Duration::from_millis(100);
        let mut first = true;
        while !stop.is_cancelled() {
            let connected = async {
                let mut pubsub = client.get_async_pubsub().await?;
                pubsub.subscribe(keys.events()).await?;
                Ok::<_, redis::RedisError>(pubsub)
            };
            let mut pubsub = match tokio::time::timeout(Duration::from_secs(5), connected).await {
                Ok(Ok(pubsub)) => pubsub,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, ?backoff, "redis pub/sub unreachable; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {},
                        _ = stop.cancelled() => return,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
                Err(_) => continue,
            };
            self.connected.store(true, Ordering::Relaxed);
            backoff = Duration::from_millis(100);
            if !first {
                tracing::info!("redis pub/sub reconnected; listeners re-check what they wait for");
            }
            first = false;
            // Whatever was published while we were not subscribed is found by a re-check.
            self.resync_all();
            let mut messages = pubsub.on_message();
            loop {
                tokio::select! {
                    message = messages.next() => {
                        let Some(message) = message else { break };
                        let Ok(payload) = message.get_payload::<String>() else { continue };
                        match serde_json::from_str::<Event>(&payload) {
                            Ok(event) => self.deliver(event),
                            Err(e) => tracing::warn!(error = %e, payload, "unreadable event"),
                        }
                    }
                    _ = stop.cancelled() => return,
                }
            }
            self.connected.store(false, Ordering::Relaxed);
            tracing::warn!("redis pub/sub connection lost; reconnecting");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn events_reach_only_the_listeners_of_their_hash() {
        let hub = EventHub::default();
        let mut a = hub.subscribe();
        let mut b = hub.subscribe();
        hub.watch(&a, "h1");
        hub.watch(&b, "h2");
        hub.deliver(Event::new("h1", EventKind::Cached { duration_ms: 5 }));
        match a.recv().await {
            Some(HubMessage::Event(e)) => assert_eq!(e.hash, "h1"),
            other => panic!("a expected its event, got {other:?}"),
        }
        assert!(b.receiver.try_recv().is_err(), "b watches another hash");
        hub.unwatch(a.id, "h1");
        hub.deliver(Event::new("h1", EventKind::Processing));
        assert!(a.receiver.try_recv().is_err(), "a stopped watching");
    }

    #[test]
    fn a_segment_event_carries_its_words_across_gateways() {
        let event = Event::new(
            "h",
            EventKind::Segment(crate::synthesis::SegmentNote {
                index: 1,
                duration_ms: 900,
                last: false,
                words: vec![crate::synthesis::words::WordTiming {
                    word: "lamp".into(),
                    start_char: 35,
                    end_char: 39,
                    start: 2.41,
                    end: 2.9,
                }],
            }),
        );
        let json = event.to_json();
        assert!(json.contains(r#""kind":"segment""#), "{json}");
        assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), event);
        // From a gateway that sends no words (an older one, or a model without durations).
        let bare = r#"{"hash":"h","kind":"segment","index":0,"duration_ms":5,"last":true}"#;
        let Event {
            kind: EventKind::Segment(note),
            ..
        } = serde_json::from_str::<Event>(bare).unwrap()
        else {
            panic!("a segment");
        };
        assert!(note.last && note.words.is_empty());
    }

    #[test]
    fn events_round_trip_as_json() {
        let event = Event::new(
            "h",
            EventKind::Error {
                error: "boom".into(),
            },
        );
        let json = event.to_json();
        assert_eq!(json, r#"{"hash":"h","kind":"error","error":"boom"}"#);
        assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), event);
    }
}
