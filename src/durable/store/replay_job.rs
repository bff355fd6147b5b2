//! A bulk replay's progress on disk, so that a replay stopped any way (Ctrl-C, kill -9,
//! a lost broker) resumes where its last confirmed batch ended when the same command is
//! run again. One JSON file per selection under `<store>/replays/`, named by a hash of
//! the command's selection and target, rewritten (write, fsync, rename) after every
//! confirmed batch: a resumed replay sends again at most the batch that was in flight,
//! which consumers dedup by `message_id`. `GET /api/v1/replays` lists them.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Job {
    /// The file's name: a hash of the selection and the target.
    pub key: String,
    pub route: Option<String>,
    pub event_type: Option<String>,
    /// The time range as resolved when the job started (a `--since 2h` resumed later
    /// selects what it selected then).
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    /// The broker it publishes to (password masked).
    pub target: String,
    /// Events the selection held when the job started.
    pub total: usize,
    /// Events confirmed so far, over every run of the job.
    pub sent: usize,
    /// The last confirmed event's seq: a resumed run starts after it.
    pub last_seq: i64,
    /// `running`, `stopped` (with why) or `done`.
    pub state: String,
    pub started_at: String,
    pub updated_at: String,
}

pub(crate) fn dir(store: &Path) -> PathBuf {
    store.join("replays")
}

/// The key of a selection and target: the same command finds its job again.
pub(crate) fn key(parts: &[&str]) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(parts.join("\0").as_bytes());
    hex::encode(&digest[..8])
}

impl Job {
    fn file(&self, store: &Path) -> PathBuf {
        dir(store).join(format!("{}.json", self.key))
    }

    /// The job `key` in `store`, if one was recorded.
    pub(crate) fn load(store: &Path, key: &str) -> Option<Job> {
        let text = std::fs::read(dir(store).join(format!("{key}.json"))).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Every recorded job, newest first.
    pub(crate) fn all(store: &Path) -> Vec<Job> {
        let mut jobs: Vec<Job> = std::fs::read_dir(dir(store))
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .filter_map(|e| serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok())
            .collect();
        jobs.sort_by(|a, b| b.updated_at.cmp(&a.updated_at));
        jobs
    }

    /// Write the job durably: a crash leaves the previous or this version whole.
    pub(crate) fn save(&mut self, store: &Path) -> std::io::Result<()> {
        use std::io::Write as _;
        self.updated_at = crate::rfc3339_ms(crate::now_ms());
        std::fs::create_dir_all(dir(store))?;
        let file = self.file(store);
        let tmp = file.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&serde_json::to_vec_pretty(self).unwrap_or_default())?;
        f.sync_all()?;
        std::fs::rename(&tmp, &file)?;
        std::fs::File::open(dir(store))?.sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_survives_a_save_and_is_found_by_its_key() {
        let d = tempfile::tempdir().unwrap();
        let k = key(&["route=a", "type=", "amqp://h"]);
        assert_ne!(k, key(&["route=b", "type=", "amqp://h"]));
        let mut j = Job {
            key: k.clone(),
            route: Some("a".into()),
            event_type: None,
            since_ms: None,
            until_ms: Some(5),
            target: "amqp://u:***@h".into(),
            total: 10,
            sent: 4,
            last_seq: 7,
            state: "running".into(),
            started_at: String::new(),
            updated_at: String::new(),
        };
        j.save(d.path()).unwrap();
        let back = Job::load(d.path(), &k).unwrap();
        assert_eq!((back.sent, back.last_seq, back.until_ms), (4, 7, Some(5)));
        assert_eq!(Job::all(d.path()).len(), 1);
    }
}
