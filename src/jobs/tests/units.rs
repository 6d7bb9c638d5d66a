//! Small pure helpers: timestamps, cursors, backoff, id/status parsing, store selection.

use std::time::Duration;

use crate::jobs::rows::{decode_cursor, encode_cursor};
use crate::jobs::{JobError, JobId, JobStatus, StoreConfig, backoff_ms, open_store, rfc3339_ms};

#[test]
fn rfc3339_rendering() {
    assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(rfc3339_ms(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    assert_eq!(rfc3339_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
    assert_eq!(rfc3339_ms(-1), "1969-12-31T23:59:59.999Z");
}

#[test]
fn cursors_round_trip_and_reject_garbage() {
    assert_eq!(decode_cursor(&encode_cursor(42)).unwrap(), 42);
    for bad in ["", "zz", "00", &hex::encode("v2:1"), &hex::encode("v1:x")] {
        assert!(
            matches!(decode_cursor(bad), Err(JobError::BadRequest(_))),
            "{bad}"
        );
    }
}

#[test]
fn backoff_doubles_up_to_the_cap() {
    let (b, cap) = (Duration::from_secs(1), Duration::from_secs(10));
    let got: Vec<i64> = (1..=6).map(|a| backoff_ms(b, cap, a)).collect();
    assert_eq!(got, vec![1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
    assert_eq!(backoff_ms(b, cap, 1_000), 10_000);
}

#[test]
fn ids_and_statuses_parse() {
    let id = JobId::new();
    assert_eq!(id.to_string().parse::<JobId>().unwrap(), id);
    assert!("nope".parse::<JobId>().is_err());
    for s in JobStatus::ALL {
        assert_eq!(s.as_str().parse::<JobStatus>().unwrap(), s);
        assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
    }
    assert!(JobStatus::Canceled.is_terminal() && !JobStatus::Running.is_terminal());
}

#[tokio::test]
async fn open_store_picks_backend_by_scheme() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(None, dir.path(), StoreConfig::default())
        .await
        .unwrap();
    store.ping().await.unwrap();
    store.close().await.unwrap();
    assert!(dir.path().join("jobs.sqlite").is_file());
    let err = open_store(Some("mysql://x"), dir.path(), StoreConfig::default()).await;
    assert!(matches!(err, Err(JobError::BadRequest(_))));
}
