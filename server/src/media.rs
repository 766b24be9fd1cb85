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
    #[error("the engine did not fetch the media")]
    NotFetched,
    #[error("cannot store media: {0}")]
    Io(#[from] std::io::Error),
}

/// Deletes stored media files older than `max_age` (after the delivery retention, no
/// link to them is valid any more). Returns how many were removed.
pub fn prune(data_dir: &Path, max_age: std::time::Duration) -> usize {
    let Ok(users) = std::fs::read_dir(data_dir.join("media")) else { return 0 };
    let now = std::time::SystemTime::now();
    let mut removed = 0;
    for user in users.flatten() {
        let Ok(files) = std::fs::read_dir(user.path()) else { continue };
        for file in files.flatten() {
            let old = file
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|age| age > max_age);
            if old && std::fs::remove_file(file.path()).is_ok() {
                removed += 1;
            }
        }
    }
    removed
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
        let Some(data) = &media.data else { return Err(MediaError::NotFetched) };
        if data.len() > self.max_bytes {
            return Err(MediaError::TooLarge { size: data.len(), max: self.max_bytes });
        }
        let relative = format!("media/{user_id}/{}", uuid::Uuid::new_v4().simple());
        let full = self.data_dir.join(&relative);
        if let Some(parent) = full.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        tokio::fs::write(&full, data).await?;
        Ok(StoredMedia {
            kind: media.kind.as_str().to_owned(),
            path: relative,
            mimetype: media.mimetype.clone(),
            file_name: media.file_name.clone(),
            size: data.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{InboundMedia, MediaKind};

    #[tokio::test]
    async fn stores_capped_files_and_prunes_old_ones() {
        let dir = tempfile::tempdir().unwrap();
        let store = MediaStore::new(dir.path(), 8);
        let media = |n: usize| InboundMedia {
            kind: MediaKind::Image,
            mimetype: "image/png".into(),
            file_name: None,
            data: Some(vec![1; n]),
        };
        assert!(matches!(store.store(7, &media(9)).await, Err(MediaError::TooLarge { size: 9, max: 8 })));
        let unfetched = InboundMedia { data: None, ..media(1) };
        assert!(matches!(store.store(7, &unfetched).await, Err(MediaError::NotFetched)));
        let stored = store.store(7, &media(8)).await.unwrap();
        assert!(stored.path.starts_with("media/7/"));
        assert_eq!(prune(dir.path(), std::time::Duration::from_secs(3600)), 0, "fresh files stay");
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(prune(dir.path(), std::time::Duration::from_millis(1)), 1);
        assert!(!dir.path().join(&stored.path).exists());
    }
}
