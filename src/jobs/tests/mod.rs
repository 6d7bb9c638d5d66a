//! Job store tests. Every store test body runs against both backends through [`store_test!`]:
//! SQLite in a temp directory, and PostgreSQL in a fresh database (created per test, dropped at
//! the end, so tests run in parallel and reruns start clean) when `FERROCR_TEST_POSTGRES_URL` is
//! set; otherwise the PostgreSQL variant prints why it is skipped and returns.

mod basic;
mod crash;
mod harness;
mod lease;
mod retention;
mod units;
mod webhook;

/// Generate `mod $name { sqlite, postgres }` tests running `super::$body(&Harness)`; the optional
/// third argument edits the [`crate::jobs::StoreConfig`] first.
macro_rules! store_test {
    ($name:ident, $body:ident) => {
        store_test!($name, $body, |_c: &mut $crate::jobs::StoreConfig| {});
    };
    ($name:ident, $body:ident, $cfg:expr) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let h = $crate::jobs::tests::harness::sqlite($cfg).await;
                $crate::jobs::tests::harness::run(h, super::$body).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                let Some(h) = $crate::jobs::tests::harness::postgres($cfg).await else {
                    return;
                };
                $crate::jobs::tests::harness::run(h, super::$body).await;
            }
        }
    };
}
pub(crate) use store_test;
