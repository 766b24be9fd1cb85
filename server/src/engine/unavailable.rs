//! Stands in for `WA_ENGINE=whatsapp` until the whatsapp-rust adapter lands: every
//! start fails with a clear reason, which the session status and log then show.
//! Nothing pretends to connect.

use super::{EngineError, EngineSession, EventSender, StartRequest, WaEngine};
use async_trait::async_trait;
use std::sync::Arc;

pub struct Unavailable;

#[async_trait]
impl WaEngine for Unavailable {
    async fn start(&self, _: StartRequest, _: EventSender) -> Result<Arc<dyn EngineSession>, EngineError> {
        Err(EngineError::Failed(
            "the real WhatsApp engine is not built into this version yet; run with WA_ENGINE=simulated".into(),
        ))
    }
}
