//! Stored media of incoming messages under `DATA_DIR/media/<user id>/`, size-capped.
//! Webhook payloads link to these files (signed, expiring links are made at delivery).

use crate::engine::InboundMedia;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredMedia {
    pub kind: String,
    /// Relative to `DATA_DIR`.
    pub path: String,
    pub mimetype: String,
    pub file_name: Option<String>,
    pub size: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("media of {size} bytes is over the {max} byte limit")]
    TooLarge { size: usize, max: usize },
    #[error("cannot store media: {0}")]
    Io(#[from] std::io::Error),
}

pub struct MediaStore {
    data_dir: PathBuf,
    max_bytes: usize,
}

impl MediaStore {
    pub fn new(data_dir: &Path, max_bytes: usize) -> Self {
        Self { data_dir: data_dir.to_path_buf(), max_bytes }
    }

    pub fn user_dir(&self, user_id: i64) -> PathBuf {
        self.data_dir.join("media").join(user_id.to_string())
    }

    pub async fn store(&self, user_id: i64, media: &InboundMedia) -> Result<StoredMedia, MediaError> {
        if media.data.len() > self.max_bytes {
            return Err(MediaError::TooLarge { size: media.data.len(), max: self.max_bytes });
        }
        let relative = format!("media/{user_id}/{}", uuid::Uuid::new_v4().simple());
        let full = self.data_dir.join(&relative);
        if let Some(parent) = full.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        tokio::fs::write(&full, &media.data).await?;
        Ok(StoredMedia {
            kind: media.kind.as_str().to_owned(),
            path: relative,
            mimetype: media.mimetype.clone(),
            file_name: media.file_name.clone(),
            size: media.data.len(),
        })
    }
}
