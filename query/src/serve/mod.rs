//! `query serve`: the commands' answers over HTTP, JSON under `/api/v1/`, from one index opened
//! as a follower of the indexer.
//!
//! Consistency: the index is one [`Chain`] behind a read-write lock. A request holds the read
//! lock from its first read to its last, and the follower catches up with the indexer (every
//! `--refresh-ms`) under the write lock, so no answer mixes two tips or half of a reorg. A
//! catch-up waits for a moment with no request in flight, and after [`MAX_PUT_OFF`] ticks
//! without one for the requests in flight to finish (new ones then wait for it).
//!
//! Limits: traces, paths, taint and exposure take a permit of a semaphore
//! (`--heavy-concurrency`) before they start, so lookups never queue behind them; each is capped
//! by its `max_txs` (the settings' default; a client may ask for up to the command line's
//! hard cap) and reports `truncated` when it stops there; an answer longer than
//! `--max-response-mb` is refused with 413; and each has `--time-budget-ms`, after which the walk
//! stops as at its cap (see [`crate::budget`]) and the `Chaintrail-Truncated-By` header names the
//! budget.

mod asked;
mod auth;
mod errors;
mod routes;

use std::ops::Deref;
use std::sync::{Arc, PoisonError, RwLock, TryLockError};
use std::time::Duration;

use anyhow::Context;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;
use tracing::{debug, info, warn};

pub use asked::{content_type, read as read_params, Asked};
pub use auth::Token;
pub use errors::ApiError;
pub use routes::{router, Route, TipView, OPENAPI, ROUTES};

use crate::chain::Chain;
use crate::cli::{Format, ServeArgs};
use crate::cmd::{check_format, Job};
use crate::config::Settings;
use crate::error::{QueryError, UsageError};
use crate::output;
use crate::render::{render, Style};

/// The response header naming the limit a partial answer stopped at.
pub const TRUNCATED_BY: &str = "chaintrail-truncated-by";

/// Ticks a catch-up is put off while requests are in flight before it waits for them.
pub const MAX_PUT_OFF: u32 = 4;
/// Blocking threads answering requests at once; more requests wait for one.
const MAX_BLOCKING_THREADS: usize = 64;

/// What every request shares: the index, the settings answers are made with, the permits of
/// heavy requests, the token and the cap on answers.
pub struct Shared {
    pub chain: RwLock<Chain>,
    pub settings: Settings,
    pub heavy: Arc<Semaphore>,
    pub token: Option<Token>,
    pub max_response_bytes: usize,
    /// How long a heavy request may work.
    pub time_budget: Duration,
}

/// The handlers' state: [`Shared`], cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// Whether a request waits for a permit of the heavy ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weight {
    Light,
    Heavy,
}

/// What a catch-up did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refreshed {
    /// Requests were in flight: put off to the next tick.
    PutOff,
    Same,
    /// The tip moved, to this height.
    Moved(Option<u32>),
}

impl AppState {
    pub fn new(shared: Shared) -> AppState {
        AppState(Arc::new(shared))
    }

    /// Answers a command's request: checks the format, prepares the job from the parameters
    /// (`prepare` gets the settings with that format), runs it under the read lock on a blocking
    /// thread (heavy ones once they hold a permit) and renders it as the command line would.
    pub async fn answer(
        &self,
        command: &'static str,
        format: Format,
        weight: Weight,
        prepare: impl FnOnce(&Settings) -> Result<Job, UsageError>,
    ) -> Result<Response, ApiError> {
        check_format(format, command)?;
        let settings = Settings { format, ..self.settings.clone() };
        let job = prepare(&settings)?;
        let _permit = match weight {
            Weight::Heavy => Some(
                Arc::clone(&self.heavy)
                    .acquire_owned()
                    .await
                    .map_err(|_| ApiError::Internal("the server is stopping".into()))?,
            ),
            Weight::Light => None,
        };
        debug!(command, "answering");
        let budget = match weight {
            Weight::Heavy => Some(self.time_budget),
            Weight::Light => None,
        };
        let (text, hit) = self
            .read(move |chain| {
                let deadline = budget.map(|b| std::time::Instant::now() + b);
                let (answer, hit) = crate::budget::within(deadline, || job.run(chain));
                Ok((render(&answer?, format, &Style::default())?, hit))
            })
            .await?;
        let mut response = self.send(text, format)?;
        if hit {
            let named = format!("time budget of {} ms", self.time_budget.as_millis());
            if let Ok(value) = axum::http::HeaderValue::from_str(&named) {
                response.headers_mut().insert(TRUNCATED_BY, value);
            }
        }
        Ok(response)
    }

    /// Runs `work` on a blocking thread with the index read-locked for all of it.
    pub async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Chain) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let state = self.clone();
        let done = tokio::task::spawn_blocking(move || {
            let chain = state.chain.read().unwrap_or_else(PoisonError::into_inner);
            work(&chain)
        });
        done.await.map_err(|e| ApiError::Internal(format!("the request failed: {e}")))?
    }

    /// The response for an answer's text, unless it is longer than the server sends.
    pub fn send(&self, text: String, format: Format) -> Result<Response, ApiError> {
        if text.len() > self.max_response_bytes {
            return Err(ApiError::TooLarge(format!(
                "the answer is {} bytes, more than the {} this server sends (--max-response-mb): lower hops, \
                 max_txs or limit",
                text.len(),
                self.max_response_bytes
            )));
        }
        Ok(([(CONTENT_TYPE, content_type(format))], text).into_response())
    }

    /// Catches the index up with the indexer under the write lock: only when no request holds
    /// the read lock, unless `wait`.
    pub fn refresh(&self, wait: bool) -> Result<Refreshed, QueryError> {
        let mut chain = if wait {
            self.chain.write().unwrap_or_else(PoisonError::into_inner)
        } else {
            match self.chain.try_write() {
                Ok(chain) => chain,
                Err(TryLockError::WouldBlock) => return Ok(Refreshed::PutOff),
                Err(TryLockError::Poisoned(p)) => p.into_inner(),
            }
        };
        Ok(if chain.refresh()? { Refreshed::Moved(chain.tip_height()) } else { Refreshed::Same })
    }
}

/// Serves until Ctrl-C or SIGTERM, then lets the requests in flight finish.
pub fn run(settings: &Settings, args: &ServeArgs) -> anyhow::Result<()> {
    let token = auth::required(args.listen, args.token_file.as_deref())?;
    let chain = crate::open_index(settings)?;
    let state = AppState::new(Shared {
        chain: RwLock::new(chain),
        settings: Settings { format: Format::Json, ..settings.clone() },
        heavy: Arc::new(Semaphore::new(args.heavy_concurrency as usize)),
        token,
        max_response_bytes: usize::try_from(args.max_response_mb << 20).unwrap_or(usize::MAX),
        time_budget: Duration::from_millis(args.time_budget_ms),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .build()
        .context("cannot start the server's runtime")?;
    runtime.block_on(serve(state, args))
}

async fn serve(state: AppState, args: &ServeArgs) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr().context("cannot tell the address listened on")?;
    let at = state.chain.read().unwrap_or_else(PoisonError::into_inner).tip_text();
    let access = if state.token.is_some() { "token required" } else { "no token: loopback only" };
    output::say(&format!("serving http://{address}/api/v1/ (index {} at {at}; {access})", state.settings.db.display()));
    let follower = tokio::spawn(follow(state.clone(), Duration::from_millis(args.refresh_ms)));
    let served = axum::serve(listener, router(state)).with_graceful_shutdown(stopped()).await;
    follower.abort();
    served.context("the server failed")?;
    output::say("stopped");
    Ok(())
}

/// Catches up with the indexer every `every`, for as long as the server runs.
async fn follow(state: AppState, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut put_off = 0;
    loop {
        ticks.tick().await;
        let (s, wait) = (state.clone(), put_off >= MAX_PUT_OFF);
        match tokio::task::spawn_blocking(move || s.refresh(wait)).await {
            Ok(Ok(Refreshed::PutOff)) => put_off += 1,
            Ok(Ok(caught)) => {
                put_off = 0;
                if let Refreshed::Moved(height) = caught {
                    info!(height, "caught up with the indexer");
                }
            }
            Ok(Err(e)) => warn!("cannot catch up with the indexer: {e}"),
            Err(e) => warn!("catching up with the indexer failed: {e}"),
        }
    }
}

/// Resolves at Ctrl-C or SIGTERM.
async fn stopped() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            warn!("cannot watch for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                warn!("cannot watch for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    output::say("stopping: the requests in flight finish first");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{script, TestChain};

    fn state(chain: Chain) -> AppState {
        AppState::new(Shared {
            chain: RwLock::new(chain),
            settings: Settings {
                db: Default::default(),
                network: None,
                format: Format::Json,
                style: Style::default(),
                cache_bytes: 1 << 20,
                trace_max_txs: 10,
                path_max_txs: 10,
                tags: None,
                config: None,
            },
            heavy: Arc::new(Semaphore::new(1)),
            token: None,
            max_response_bytes: 100,
            time_budget: Duration::from_secs(3600),
        })
    }

    #[test]
    fn a_refresh_waits_for_no_request_in_flight_and_brings_in_new_blocks() {
        let mut t = TestChain::new();
        t.coin(script(1), 5_000);
        t.mine();
        let state = state(Chain::open(t.db_path(), 1 << 20, None).unwrap());
        let height = state.chain.read().unwrap().tip_height();
        assert_eq!(height, Some(t.height()));
        t.coin(script(2), 6_000);
        t.mine();
        let in_flight = state.chain.read().unwrap();
        assert_eq!(state.refresh(false).unwrap(), Refreshed::PutOff);
        assert_eq!(in_flight.tip_height(), height, "a request in flight keeps its tip");
        drop(in_flight);
        assert_eq!(state.refresh(false).unwrap(), Refreshed::Moved(Some(t.height())));
        assert_eq!(state.refresh(true).unwrap(), Refreshed::Same);
    }

    #[tokio::test]
    async fn a_heavy_request_past_its_time_budget_answers_what_it_found_and_names_the_budget() {
        use crate::cmd::trace::{self, TraceParams};
        let mut t = TestChain::new();
        let coin = t.coin(script(1), 50_000);
        let a = t.send(&[coin], &[(script(2), 20_000), (script(3), 29_000)]);
        t.send(&[crate::fixture::out(a, 0)], &[(script(4), 19_000)]);
        t.mine();
        let chain = Chain::open(t.db_path(), 1 << 20, None).unwrap();
        let mut shared = state(chain);
        let params: TraceParams =
            serde_json::from_value(serde_json::json!({"direction": "forward", "target": a.to_string()})).unwrap();
        let ask = |state: AppState, params: TraceParams| async move {
            state
                .answer("trace", Format::Json, Weight::Heavy, |set| {
                    Ok(Job::Trace(trace::Request::prepare(&params, set)?))
                })
                .await
                .unwrap()
        };
        // Within its budget: the whole trace, no header.
        Arc::get_mut(&mut shared.0).expect("one handle").max_response_bytes = 1 << 20;
        let whole = ask(shared.clone(), params.clone()).await;
        assert!(whole.headers().get(TRUNCATED_BY).is_none());
        // No time at all: the root alone, marked truncated, the budget named.
        Arc::get_mut(&mut shared.0).expect("one handle").time_budget = Duration::ZERO;
        let cut = ask(shared, params).await;
        let named = cut.headers().get(TRUNCATED_BY).map(|v| v.to_str().unwrap().to_string());
        assert_eq!(named.as_deref(), Some("time budget of 0 ms"));
        let body = axum::body::to_bytes(cut.into_body(), 1 << 20).await.unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["truncated"], true);
        assert_eq!(json["txs"].as_array().unwrap().len(), 1, "{json}");
    }

    #[test]
    fn an_answer_over_the_cap_is_refused_with_413() {
        let t = TestChain::new();
        let state = state(Chain::open(t.db_path(), 1 << 20, None).unwrap());
        assert_eq!(state.send("x".repeat(100), Format::Json).unwrap().status(), 200);
        let err = state.send("x".repeat(101), Format::Json).unwrap_err();
        assert_eq!(err.status(), axum::http::StatusCode::PAYLOAD_TOO_LARGE);
        assert!(err.to_string().starts_with("the answer is 101 bytes, more than the 100"), "{err}");
    }
}
