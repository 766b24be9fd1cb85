//! What the library tells us, turned into port events: its event bus, and its connect
//! attempts. The library emits nothing when a connect attempt fails (it just retries
//! with Fibonacci backoff), so the transport factory is wrapped to see every attempt
//! and report "connecting, attempt N, retry in M s: <reason>" itself.

use crate::engine::EngineEvent;
use async_trait::async_trait;
use std::{
    sync::{
        atomic::{AtomicU32, Ordering},
        Arc,
    },
    time::Duration,
};
use tokio::sync::mpsc;
use whatsapp_rust::{
    prelude::{Event, EventHandler, EventInterest, EventKind, InboundMessage},
    transport::{Transport, TransportEvent, TransportFactory},
};

/// What the observers hand to the session's forwarding task, in order.
pub enum Note {
    Event(EngineEvent),
    /// Messages the durability hook did not see (newsletters, placeholder recoveries).
    Messages(Arc<[InboundMessage]>),
    /// WhatsApp wants a new pair code for the phone number being linked.
    RefreshPairCode,
}

pub type Notes = mpsc::UnboundedSender<Note>;

/// The library's connect timeout is 20 s; ours fires first so a hung dial is reported.
const DIAL_TIMEOUT: Duration = Duration::from_secs(19);

/// The library's reconnect delay before attempt `failures + 1`, without its ±10 % jitter.
pub fn backoff(failures: u32) -> Duration {
    let (mut a, mut b) = (1u64, 1u64);
    for _ in 1..failures {
        (a, b) = (b, (a + b).min(900));
    }
    Duration::from_secs(a.min(900))
}

/// Counts connect attempts since the last successful connection.
#[derive(Default)]
pub struct Attempts(AtomicU32);

impl Attempts {
    fn next(&self) -> u32 {
        self.0.fetch_add(1, Ordering::Relaxed) + 1
    }

    fn reset(&self) {
        self.0.store(0, Ordering::Relaxed);
    }
}

pub struct ObservedTransport<F> {
    inner: F,
    attempts: Arc<Attempts>,
    notes: Notes,
}

impl<F> ObservedTransport<F> {
    pub fn new(inner: F, attempts: Arc<Attempts>, notes: Notes) -> Self {
        Self { inner, attempts, notes }
    }
}

#[async_trait]
impl<F: TransportFactory> TransportFactory for ObservedTransport<F> {
    async fn create_transport(
        &self,
    ) -> Result<(Arc<dyn Transport>, whatsapp_rust::async_channel::Receiver<TransportEvent>), anyhow::Error> {
        let attempt = self.attempts.next();
        let result = match tokio::time::timeout(DIAL_TIMEOUT, self.inner.create_transport()).await {
            Ok(result) => result,
            Err(_) => Err(anyhow::anyhow!("no answer within {} s", DIAL_TIMEOUT.as_secs())),
        };
        if let Err(e) = &result {
            if attempt == 1 {
                tracing::info!(error = %e, "cannot reach WhatsApp; retrying with backoff (the session status shows each attempt)");
            } else {
                tracing::debug!(attempt, error = %e, "WhatsApp connect attempt failed");
            }
            let _ = self.notes.send(Note::Event(EngineEvent::Reconnecting {
                attempt,
                delay: backoff(attempt),
                reason: Some(format!("cannot reach WhatsApp ({e:#})")),
            }));
        }
        result
    }
}

/// Converts library events on the dispatch path (cheap, never blocks the library).
pub struct Observer {
    pub attempts: Arc<Attempts>,
    pub notes: Notes,
}

impl EventHandler for Observer {
    fn handle_event(&self, event: Arc<Event>) {
        if let Event::Connected(_) = &*event {
            self.attempts.reset();
        }
        let note = match &*event {
            Event::Messages(batch) if !batch.hook_committed => Some(Note::Messages(batch.messages.clone())),
            Event::PairingCodeRefresh(_) => Some(Note::RefreshPairCode),
            other => to_engine_event(other).map(Note::Event),
        };
        if let Some(note) = note {
            let _ = self.notes.send(note);
        }
    }

    fn interest(&self) -> EventInterest {
        EventInterest::of(&[
            EventKind::Connected,
            EventKind::Disconnected,
            EventKind::PairSuccess,
            EventKind::PairError,
            EventKind::LoggedOut,
            EventKind::PairingQrCode,
            EventKind::PairingCode,
            EventKind::PairingCodeError,
            EventKind::PairingCodeRefresh,
            EventKind::PairingQrCodesExhausted,
            EventKind::QrScannedWithoutMultidevice,
            EventKind::ClientOutdated,
            EventKind::StreamReplaced,
            EventKind::TemporaryBan,
            EventKind::ConnectFailure,
            EventKind::Messages,
        ])
    }
}

/// The status-relevant library events, in our terms; `None` for the rest.
pub fn to_engine_event(event: &Event) -> Option<EngineEvent> {
    Some(match event {
        Event::PairingQrCode(qr) => EngineEvent::Qr { code: qr.code.clone(), valid_for: qr.timeout },
        Event::PairingQrCodesExhausted(_) => EngineEvent::QrExhausted,
        Event::PairingCode(pc) => EngineEvent::PairCode { code: pc.code.clone() },
        Event::PairingCodeError(e) => EngineEvent::Stopped {
            reason: match e.backoff {
                Some(wait) => {
                    format!("WhatsApp refused a pair code ({}); try again in {} s", e.error, wait.as_secs().max(1))
                }
                None => format!("WhatsApp refused a pair code: {}", e.error),
            },
        },
        Event::PairSuccess(p) => EngineEvent::Paired {
            phone: p.id.user_base().to_owned(),
            push_name: Some(p.business_name.clone()).filter(|n| !n.is_empty()),
        },
        Event::PairError(e) => EngineEvent::Stopped { reason: format!("pairing failed: {}", e.error) },
        Event::QrScannedWithoutMultidevice(_) => EngineEvent::Stopped {
            reason: "the phone scanned the QR code but has multi-device turned off; update WhatsApp on the phone"
                .into(),
        },
        Event::Connected(_) => EngineEvent::Connected,
        Event::Disconnected(d) => EngineEvent::Disconnected {
            reason: format!("connection lost ({}); reconnecting", d.reason),
            will_retry: true,
        },
        Event::ConnectFailure(f) => EngineEvent::Disconnected {
            reason: match &f.message {
                Some(m) => format!("WhatsApp refused the connection ({:?}: {m}); retrying", f.reason),
                None => format!("WhatsApp refused the connection ({:?}); retrying", f.reason),
            },
            will_retry: true,
        },
        Event::LoggedOut(l) => {
            let detail = l
                .logout_message
                .as_ref()
                .and_then(|m| m.header.clone().or_else(|| m.subtext.clone()))
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            EngineEvent::LoggedOut { reason: format!("The phone unlinked this device ({:?}){detail}", l.reason) }
        }
        Event::StreamReplaced(_) => EngineEvent::Stopped {
            reason:
                "another client took over this device's connection (stream replaced); start the session to take it back"
                    .into(),
        },
        Event::TemporaryBan(b) => EngineEvent::Stopped {
            reason: format!(
                "WhatsApp temporarily banned this number ({}); it lifts in {}",
                b.code,
                humantime::format_duration(Duration::from_secs(b.expire.num_seconds().max(0) as u64))
            ),
        },
        Event::ClientOutdated(_) => EngineEvent::Stopped {
            reason: "WhatsApp rejected this client version as outdated; update WA Gateway (or unset WA_VERSION)".into(),
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use whatsapp_rust::types::events::{
        ClientOutdated, Disconnected, LoggedOut, PairSuccess, PairingQrCode, StreamReplaced, TemporaryBan,
    };

    #[test]
    fn observer_forwards_in_order_and_resets_attempts_on_connect() {
        use whatsapp_rust::types::events::{Connected, PairingCodeRefresh};
        let (notes, mut rx) = mpsc::unbounded_channel();
        let attempts = Arc::new(Attempts::default());
        attempts.next();
        attempts.next();
        let observer = Observer { attempts: attempts.clone(), notes };
        observer.handle_event(Arc::new(Event::PairingCodeRefresh(
            PairingCodeRefresh::builder().force_manual(false).build(),
        )));
        observer.handle_event(Arc::new(Event::Connected(Connected::builder().build())));
        assert!(matches!(rx.try_recv(), Ok(Note::RefreshPairCode)));
        assert!(matches!(rx.try_recv(), Ok(Note::Event(EngineEvent::Connected))));
        assert_eq!(attempts.next(), 1, "a connection starts the count again");
    }

    #[test]
    fn backoff_follows_the_library_schedule() {
        let secs: Vec<u64> = (1..=8).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(secs, [1, 1, 2, 3, 5, 8, 13, 21]);
        assert_eq!(backoff(40).as_secs(), 900, "capped at 15 minutes");
    }

    #[test]
    fn status_events_map_to_port_events() {
        let qr = Event::PairingQrCode(
            PairingQrCode::builder().code("2@abc".into()).timeout(Duration::from_secs(60)).build(),
        );
        assert!(
            matches!(to_engine_event(&qr), Some(EngineEvent::Qr { code, valid_for }) if code == "2@abc" && valid_for.as_secs() == 60)
        );

        let paired = Event::PairSuccess(
            PairSuccess::builder()
                .id("6281234567890:12@s.whatsapp.net".parse().unwrap())
                .lid("123456789012345:12@lid".parse().unwrap())
                .business_name(String::new())
                .platform("android".into())
                .build(),
        );
        assert!(
            matches!(to_engine_event(&paired), Some(EngineEvent::Paired { phone, push_name: None }) if phone == "6281234567890")
        );

        let dropped = Event::Disconnected(
            Disconnected::builder()
                .reason(whatsapp_rust::transport::DisconnectReason::ServerClose {
                    code: Some(1006),
                    reason: String::new(),
                })
                .build(),
        );
        assert!(matches!(to_engine_event(&dropped), Some(EngineEvent::Disconnected { will_retry: true, .. })));

        let out = Event::LoggedOut(
            LoggedOut::builder()
                .on_connect(false)
                .reason(whatsapp_rust::types::events::ConnectFailureReason::LoggedOut)
                .build(),
        );
        assert!(
            matches!(to_engine_event(&out), Some(EngineEvent::LoggedOut { reason }) if reason.starts_with("The phone unlinked"))
        );

        for (event, needle) in [
            (Event::StreamReplaced(StreamReplaced::builder().build()), "stream replaced"),
            (Event::ClientOutdated(ClientOutdated::builder().build()), "outdated"),
            (
                Event::TemporaryBan(
                    TemporaryBan::builder()
                        .code(whatsapp_rust::types::events::TempBanReason::SentToTooManyPeople)
                        .expire(whatsapp_rust::chrono::Duration::seconds(3600))
                        .build(),
                ),
                "lifts in 1h",
            ),
        ] {
            match to_engine_event(&event) {
                Some(EngineEvent::Stopped { reason }) => assert!(reason.contains(needle), "{reason}"),
                other => panic!("{needle}: {other:?}"),
            }
        }
    }
}
